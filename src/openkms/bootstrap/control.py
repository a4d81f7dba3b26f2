"""The composition root's part for the control API (dev mode, ``[testing] control_api``): the
clock it moves, its state, and the seed it loads and resets to.

The seed's modules (its model, the seed file's reader, the service that loads and exports one) are
imported where a seed is loaded, reset to or exported, not at every start (issue 16).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from openkms.crypto.software import SoftwareBackend
from openkms.crypto.symmetric import AesGcmDataCipher
from openkms.domain.ports import Clock, Store
from openkms.service.audit import AuditRecorder
from openkms.service.backends import Backends
from openkms.service.container import Services
from openkms.service.resolve import KeyResolver
from openkms.service.secret_values import SecretValues
from openkms.service.testing import DevControl
from openkms.settings import Settings
from openkms.system import (
    CLOCK_OFFSET,
    FAULT_RULES,
    DeterministicIds,
    OffsetClock,
    SharedOffsetClock,
    SharedValue,
    UuidGenerator,
)

if TYPE_CHECKING:
    from openkms.domain.seed import Seed
    from openkms.service.seeding import SeedService


def load_seed(seeding: SeedService | None, seed: Seed, settings: Settings) -> None:
    """The seed's data in place of any, at start: what the server cannot hold is told at the
    entry's line of the file, and nothing is loaded then."""
    from openkms import seedfile
    from openkms.domain.seed import SeedProblem

    assert seeding is not None
    assert settings.seed_file is not None
    try:
        seeding.load(seed)
    except SeedProblem as problem:
        raise seedfile.error_at(settings.seed_file, seed, problem) from None


def dev_control(
    settings: Settings, store: Store, clock: OffsetClock | None, services: Services, recorder: AuditRecorder,
    crypto: tuple[SoftwareBackend, Backends, KeyResolver], ids: DeterministicIds | None,
) -> DevControl | None:  # fmt: skip
    """The control API's state; its fault rules shared by the workers as the clock's offset is,
    unless a test runs the server on a clock of its own (one process); the seed it resets to. None
    when the control API is off (no movable clock)."""
    if clock is None:
        return None
    shared = SharedValue(store, FAULT_RULES, settings.data_dir) if isinstance(clock, SharedOffsetClock) else None
    software, backends, resolver = crypto

    def seeding() -> SeedService:  # made for a seed, a reset to it, an export: not at every start
        from openkms.service.seeding import SeedService

        values = SecretValues(store, resolver, backends, AesGcmDataCipher(), clock, UuidGenerator())
        return SeedService(store, services.identity, backends, software, values, services.regions, clock)

    seed = _seed(settings.seed_file) if settings.seed_file else None
    restart = ids.restart if ids is not None else None
    return DevControl(store, clock, services, recorder.keyed_hash, shared, seeding, seed, settings.dev, restart)


def _seed(path: Path) -> Seed:
    from openkms import seedfile  # a server given a seed only

    return seedfile.load(path)


def movable_clock(settings: Settings, given: Clock | None, store: Store) -> OffsetClock | None:
    """The clock the control API moves, when it is on: a test's own ``OffsetClock``, else one
    whose offset is kept in the store for every worker."""
    if not settings.control_api_on:
        return None
    if isinstance(given, OffsetClock):
        return given
    return SharedOffsetClock(SharedValue(store, CLOCK_OFFSET, settings.data_dir)) if given is None else None
