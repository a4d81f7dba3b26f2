"""Background jobs: automatic rotation of due keys, purging keys past their deletion window,
and deleting imported material (and import wrapping keys) past its expiry.

Each job is idempotent and compare-and-set: it checks again inside its write, under the scope
lock every write takes (storage/sql/scopes.py), whether the item is still due. So running it from several
workers or nodes at once rotates or purges each due item once (tests/contract/test_serial_writes.py);
the composition root still runs it from one worker per node to avoid waste.
"""

from __future__ import annotations

from dataclasses import dataclass

from openkms.domain import errors
from openkms.domain.keys import Key
from openkms.domain.ports import Clock, Store, UnitOfWork
from openkms.service.backends import Backends
from openkms.service.discards import Discards
from openkms.service.importing import ImportService
from openkms.service.versions import VersionService


@dataclass(frozen=True, slots=True)
class SchedulerReport:
    rotated: tuple[str, ...]
    purged: tuple[str, ...]
    materials_expired: tuple[str, ...] = ()
    tokens_purged: int = 0


class Scheduler:
    def __init__(
        self, store: Store, clock: Clock, versions: VersionService, importing: ImportService, backends: Backends
    ) -> None:
        self._backends = backends
        self._store = store
        self._clock = clock
        self._versions = versions
        self._importing = importing

    def run_once(self) -> SchedulerReport:
        now = int(self._clock.now())
        with self._store.read() as uow:
            due = uow.keys.due_for_rotation(now)
        rotated = [k.id for k in due if self._versions.rotate(k) is not None]

        purged: list[str] = []
        with self._store.read() as uow:
            candidates = uow.keys.past_deletion(now)
        for key in candidates:
            discards = Discards()
            with self._store.write() as uow:
                current = uow.keys.get(key.account_uid, key.region, key.id)
                if current is not None and current.is_gone(now):
                    self._retire_objects(uow, current, discards)
                    uow.keys.purge(key.id)
                    purged.append(key.id)
            discards.run()
        expired, tokens = self._importing.expire()
        return SchedulerReport(tuple(rotated), tuple(purged), tuple(expired), tokens)

    def _retire_objects(self, uow: UnitOfWork, key: Key, discards: Discards) -> None:
        """What a purged key's backend holds outside the database: its versions and wrapping keys."""
        try:
            backend = self._backends.for_key(key)
        except errors.BackendUnavailable:
            return  # its key store is no longer configured: nothing here can destroy its objects
        for version in uow.versions.list_for_key(key.id):
            discards.add(backend, version.material_ref)
        for token in uow.import_tokens.for_key(key.id):
            discards.add(backend, token.sealed_private_key)
