"""The scheduler's writes under the lease's fence: a run by a former leader, paused past its lease
while another took it, changes nothing (storage/leases.py, Store.fenced)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from openkms.audit.trail import NoTrail
from openkms.crypto.sealing import AesGcmSealer
from openkms.domain import errors
from openkms.domain.keys import Key
from openkms.domain.rotation import DAY
from openkms.service.audit import AuditRecorder
from openkms.service.importing import ImportService
from openkms.service.keys import CreateKeyRequest
from openkms.service.scheduler import Scheduler
from openkms.storage.leases import SqlLeases
from openkms.system import UuidGenerator
from tests.unit.service.conftest import CALLER, RESOLVER, World


def _scheduler(world: World) -> Scheduler:
    importing = ImportService(
        world.store, RESOLVER, world.backends, AesGcmSealer(bytes(32)), world.clock, UuidGenerator(), world.regions
    )
    off = AuditRecorder(NoTrail(), world.clock, UuidGenerator())
    return Scheduler(world.store, world.clock, world.versions(), importing, world.backends, off)


def _versions(world: World, key: Key) -> int:
    with world.store.read() as uow:
        return len(uow.versions.list_for_key(key.id))


def test_a_former_leaders_run_writes_nothing_and_the_new_leaders_does(world: World) -> None:
    key = world.keys().create_key(CALLER, CreateKeyRequest(rotation_enabled=True, rotation_interval=7 * DAY))
    world.clock.advance(7 * DAY)  # due for rotation
    former = SqlLeases(world.store.engine, "node-a", 15).renew()
    assert former is not None
    with world.store.engine.begin() as conn:  # node-a paused past its lease ...
        conn.execute(text("UPDATE leases SET valid_until = valid_until - 1000"))
    current = SqlLeases(world.store.engine, "node-b", 15).renew()  # ... and node-b took it
    assert current is not None
    scheduler = _scheduler(world)
    with pytest.raises(errors.LeaseLost), world.store.fenced(former):
        scheduler.run_once()
    assert _versions(world, key) == 1
    with world.store.fenced(current):
        assert scheduler.run_once().rotated == (key.id,)
    assert _versions(world, key) == 2
