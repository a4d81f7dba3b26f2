"""Background jobs: automatic rotation of due keys, purging keys past their deletion window,
and deleting imported material (and import wrapping keys) past its expiry.

Each job is idempotent and compare-and-set: it checks again inside its write, under the scope
lock every write takes (storage/sql/scopes.py), whether the item is still due. So running it from several
workers or nodes at once rotates or purges each due item once (tests/contract/test_serial_writes.py);
the application runs it only in the process that holds the scheduler's lease (storage/leases.py),
each of its writes fenced: once another took the lease, the run stops at its next write (LeaseLost).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from openkms.domain import errors
from openkms.domain.keys import Key
from openkms.domain.ports import Clock, Store, UnitOfWork
from openkms.domain.secrets import Secret
from openkms.service.audit import AuditRecorder
from openkms.service.backends import Backends
from openkms.service.discards import Discards
from openkms.service.importing import ImportService
from openkms.service.secret_rotation import SecretRotation
from openkms.service.versions import VersionService

log = logging.getLogger("openkms.scheduler")
# The background changes' event names (eventType AliyunServiceEvent, identity "system").
ROTATED = "RotateKey"
PURGED = "DeleteKey"
MATERIAL_EXPIRED = "ExpireKeyMaterial"
TOKEN_EXPIRED = "ExpireImportToken"  # noqa: S105 (an event name)
SECRET_PURGED = "DeleteSecret"  # noqa: S105 (an event name)
SECRET_ROTATED = "RotateSecret"  # noqa: S105 (an event name)
SECRET_RETIRED = "RetireSecretCredential"  # noqa: S105 (an event name: the previous credential disabled)


@dataclass(frozen=True, slots=True)
class SchedulerReport:
    rotated: tuple[str, ...]
    purged: tuple[str, ...]
    materials_expired: tuple[str, ...] = ()
    tokens_purged: int = 0
    secrets_purged: tuple[str, ...] = ()  # "<account>/<region>/<name>"
    secrets_rotated: tuple[str, ...] = ()  # "<account>/<region>/<name>", failed rotations included


class Scheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        versions: VersionService,
        importing: ImportService,
        backends: Backends,
        audit: AuditRecorder,
        secret_rotation: SecretRotation | None = None,
    ) -> None:
        self._secret_rotation = secret_rotation
        self._audit = audit
        self._backends = backends
        self._store = store
        self._clock = clock
        self._versions = versions
        self._importing = importing

    def run_once(self) -> SchedulerReport:
        try:
            self._audit.admit()  # fail-closed: no change that could not be recorded; tried again next run
        except errors.AuditUnavailable:
            log.error("background jobs skipped: the audit trail cannot be written")
            return SchedulerReport((), ())
        now = int(self._clock.now())
        with self._store.read() as uow:
            due = uow.keys.due_for_rotation(now)
        rotated: list[str] = []
        for key in due:
            try:
                new = self._versions.rotate(key)
            except errors.LeaseLost:
                raise  # another process leads now: it does the rest of the run
            except errors.BackendUnavailable as exc:
                # One key store's hiccup (an HSM refusing a generation) must not stop the run: the
                # other keys, the purges and expiries go on, and this key is due again next run.
                log.warning("rotation of key %s skipped, tried again next run: %s", key.id, exc.message)
                continue
            if new is not None:
                rotated.append(key.id)
                self._record(ROTATED, new, {"KeyVersionId": new.primary_version_id})

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
            if key.id in purged:
                self._record(PURGED, key, {})
        expired, tokens = self._importing.expire()
        for key in expired:
            self._record(MATERIAL_EXPIRED, key, {})
        for key, token_id in tokens:
            self._record(TOKEN_EXPIRED, key, {"ImportToken": token_id})
        secrets = self._purge_secrets(now)
        rotated_secrets = self._rotate_secrets()
        return SchedulerReport(
            tuple(rotated), tuple(purged), tuple(k.id for k in expired), len(tokens), secrets, rotated_secrets
        )

    def _rotate_secrets(self) -> tuple[str, ...]:
        """Managed secrets due for rotation, and previous credentials past their grace."""
        if self._secret_rotation is None:
            return ()
        done: list[str] = []
        for secret, version_id in self._secret_rotation.rotate_due():
            done.append(f"{secret.account_uid}/{secret.region}/{secret.name}")
            outcome = {"VersionId": version_id, "Result": "Failed" if secret.rotation_error else "Succeeded"}
            self._record_secret(SECRET_ROTATED, secret, outcome)
        for secret in self._secret_rotation.retire_due():
            self._record_secret(SECRET_RETIRED, secret, {})
        return tuple(done)

    def _record_secret(self, name: str, secret: Secret, parameters: dict[str, str]) -> None:
        try:
            self._audit.background_secret(name, secret, parameters)
        except errors.AuditUnavailable:
            log.error("audit: the %s of secret %s could not be recorded", name, secret.name)

    def _purge_secrets(self, now: int) -> tuple[str, ...]:
        """Secrets past their recovery window, each in a write of its own that checks again."""
        with self._store.read() as uow:
            candidates = uow.secrets.past_deletion(now)
        purged: list[str] = []
        for secret in candidates:
            with self._store.write() as uow:
                current = uow.secrets.get(secret.account_uid, secret.region, secret.name)
                gone = current is not None and current.delete_at is not None and current.delete_at <= now
                if current is not None and gone:
                    uow.secrets.purge(current)
            if gone:
                purged.append(f"{secret.account_uid}/{secret.region}/{secret.name}")
                self._record_secret(SECRET_PURGED, secret, {})
        return tuple(purged)

    def _record(self, name: str, key: Key, parameters: dict[str, str | None]) -> None:
        try:
            self._audit.background(name, key, parameters)
        except errors.AuditUnavailable:  # done, and cannot be undone: say so where an operator looks
            log.error("audit: the %s of key %s could not be recorded", name, key.id)

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
