"""Background jobs: automatic rotation of due keys, purging keys past their deletion window,
and deleting imported material (and import wrapping keys) past its expiry.

Each job is idempotent and compare-and-set, so running it from several workers or nodes at
once is safe; the composition root still runs it from one worker per node to avoid waste.
"""

from __future__ import annotations

from dataclasses import dataclass

from openkms.domain.ports import Clock, Store
from openkms.service.importing import ImportService
from openkms.service.versions import VersionService


@dataclass(frozen=True, slots=True)
class SchedulerReport:
    rotated: tuple[str, ...]
    purged: tuple[str, ...]
    materials_expired: tuple[str, ...] = ()
    tokens_purged: int = 0


class Scheduler:
    def __init__(self, store: Store, clock: Clock, versions: VersionService, importing: ImportService) -> None:
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
            with self._store.write() as uow:
                current = uow.keys.get(key.account_uid, key.region, key.id)
                if current is not None and current.is_gone(now):
                    uow.keys.purge(key.id)
                    purged.append(key.id)
        expired, tokens = self._importing.expire()
        return SchedulerReport(tuple(rotated), tuple(purged), tuple(expired), tokens)
