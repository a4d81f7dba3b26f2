"""Rotation of managed secrets: RotateSecret now, and the scheduler's automatic rotation and
retirement of previous credentials (domain/secret_rotation.py has the steps and their rules).

The new value is sealed and stored as an ``ACSPending`` version before the rotator makes it the
credential in force, so a password set on a database is never lost to a crash between the two;
``ACSCurrent`` moves only after the rotator's check. The caller is the one that asked (RotateSecret)
or, for the scheduler, the secret's account itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from openkms.domain import errors
from openkms.domain import secret_rotation as r
from openkms.domain import secrets as s
from openkms.domain.actions import action
from openkms.domain.authorization import secret_resource
from openkms.domain.identity import Caller
from openkms.domain.ports import Clock, IdGenerator, Store, UnitOfWork
from openkms.domain.secret_rotation import RotationJob, Rotator
from openkms.domain.secrets import Secret, SecretType, SecretVersion
from openkms.service.resolve import KeyResolver
from openkms.service.secret_values import Sealed, SecretValues

log = logging.getLogger("openkms.secrets")
_GET = action("GetSecretValue")


def _holder(versions: list[SecretVersion], stage: str) -> SecretVersion | None:
    return next((v for v in versions if stage in v.stages), None)


def _where(secret: Secret, version_id: str) -> tuple[str, str, str, str]:
    return secret.account_uid, secret.region, secret.name, version_id


class SecretRotation:
    def __init__(
        self, store: Store, resolver: KeyResolver, values: SecretValues, clock: Clock, ids: IdGenerator,
        rotators: Mapping[SecretType, Rotator],
    ) -> None:  # fmt: skip
        self._store = store
        self._resolver = resolver
        self._values = values
        self._clock = clock
        self._ids = ids
        self._rotators = dict(rotators)

    def _now(self) -> int:
        return int(self._clock.now())

    def rotator(self, secret: Secret) -> Rotator:
        if secret.secret_type is SecretType.GENERIC:
            raise errors.UnsupportedOperation("A Generic secret is rotated with PutSecretValue.")
        found = self._rotators.get(secret.secret_type)
        if found is None:
            raise errors.UnsupportedOperation(f"openkms has no rotator for {secret.secret_type.value} secrets.")
        return found

    # --- reading values -----------------------------------------------------------------------

    def _open(self, uow: UnitOfWork, caller: Caller, secret: Secret, version: SecretVersion | None) -> str:
        if version is None:
            raise errors.SecretVersionNotFound()
        key = self._values.for_reading(uow, caller, secret.encryption_key_id, secret.service_key)
        sealed = Sealed(version.sealed_data_key, version.sealed_value)
        raw = self._values.open(uow, key, _where(secret, version.version_id), sealed)
        return s.shown_value(raw, version.data_type)

    def _read_other(self, caller: Caller, name: str) -> str:
        """Another secret's ACSCurrent value (an administrator credential), if the caller may read it."""
        with self._store.read() as uow:
            other = uow.secrets.get(caller.account_uid, caller.region, name)
            policy = other.policy if other is not None else None
            self._resolver.authorize(caller, _GET, secret_resource(caller.account_uid, caller.region, name, policy))
            if other is None or other.delete_at is not None:
                raise errors.SecretRotationFailed(f"The secret {name} named in ExtendedConfig does not exist.")
            return self._open(uow, caller, other, _holder(uow.secrets.versions(other), s.CURRENT))

    def _job(self, caller: Caller, secret: Secret, stage: str = s.CURRENT) -> tuple[RotationJob, str]:
        """The job, and the value of the version holding ``stage``."""
        with self._store.read() as uow:
            versions = uow.secrets.versions(secret)
            current = self._open(uow, caller, secret, _holder(versions, s.CURRENT))
            other = current if stage == s.CURRENT else self._open(uow, caller, secret, _holder(versions, stage))
        return RotationJob(secret, current, lambda name: self._read_other(caller, name)), other

    # --- rotating -----------------------------------------------------------------------------

    def rotate(self, caller: Caller, secret: Secret, version_id: str, scheduled: bool = False) -> Secret:
        """One rotation to ``version_id``; the secret afterwards, its ``rotation_error`` set when it
        failed (the previous version then stays ACSCurrent). A scheduled run that finds the secret
        no longer due (another runner took it) changes nothing."""
        rotator = self.rotator(secret)
        with self._store.read() as uow:
            existing = next((v for v in uow.secrets.versions(secret) if v.version_id == version_id), None)
        if existing is not None:
            if s.CURRENT in existing.stages:
                return secret  # the same RotateSecret again: done already
            raise errors.SecretVersionConflict()
        if scheduled and not self._claim(secret):
            return secret  # another runner took it (before any rotator step: new_value may issue a credential)
        try:
            job, _ = self._job(caller, secret)
            pending = rotator.new_value(job)
            if not self._stage_pending(caller, secret, version_id, pending):
                return secret
            rotator.apply(job, pending)
        except errors.KmsError as exc:  # a rotator's own failure, or the secret's key or admin secret refused
            return self._failed(secret, exc.message or type(exc).__name__)
        return self._succeeded(secret, version_id, rotator.grace)

    def _claim(self, secret: Secret) -> bool:
        """A scheduled rotation, taken by one runner: still due inside the write, then not due for the others."""
        now = self._now()
        with self._store.write() as uow:
            found = uow.secrets.get(secret.account_uid, secret.region, secret.name)
            if found is None or not r.is_due(found, now):
                return False
            uow.secrets.save(r.claimed(found, now))
        return True

    def _stage_pending(self, caller: Caller, secret: Secret, version_id: str, value: str) -> bool:
        key, key_version = self._values.for_writing(caller, None if secret.service_key else secret.encryption_key_id)
        sealed = self._values.seal(key, key_version, _where(secret, version_id), s.value_bytes(value, s.DataType.TEXT))
        now = self._now()
        with self._store.write() as uow:
            found = uow.secrets.get(secret.account_uid, secret.region, secret.name)
            if found is None or found.delete_at is not None:
                return False  # deleted meanwhile
            versions = uow.secrets.versions(found)
            if any(v.version_id == version_id for v in versions):
                raise errors.SecretVersionConflict()
            changes = s.with_stages(versions, version_id, (s.PENDING,))
            new = SecretVersion(
                found.account_uid, found.region, found.name, version_id, now, s.DataType.TEXT,
                changes.pop(version_id, ()), sealed.data_key, sealed.value,
            )  # fmt: skip
            uow.secrets.add_version(new)
            self._apply(uow, found, [*versions, new], changes)
            uow.secrets.save(replace(found, updated_at=now))
        return True

    def _apply(
        self, uow: UnitOfWork, secret: Secret, versions: list[SecretVersion], changes: dict[str, tuple[str, ...]]
    ) -> None:
        for vid, stages in changes.items():
            uow.secrets.set_stages(secret, vid, stages)
        after = [replace(v, stages=changes.get(v.version_id, v.stages)) for v in versions]
        for vid in s.to_drop(after):
            uow.secrets.delete_version(secret, vid)

    def _succeeded(self, secret: Secret, version_id: str, grace: int) -> Secret:
        now = self._now()
        with self._store.write() as uow:
            found = uow.secrets.get(secret.account_uid, secret.region, secret.name) or secret
            versions = uow.secrets.versions(found)
            changes = s.with_stages(versions, version_id, (s.CURRENT,))
            changes[version_id] = tuple(x for x in changes.get(version_id, ()) if x != s.PENDING)
            self._apply(uow, found, versions, changes)
            done = r.succeeded(found, now, grace)
            uow.secrets.save(done)
        log.info("secret %s (account %s, %s) rotated to version %s", secret.name, secret.account_uid,
                 secret.region, version_id)  # fmt: skip
        return done

    def _failed(self, secret: Secret, reason: str) -> Secret:
        now = self._now()
        with self._store.write() as uow:
            found = uow.secrets.get(secret.account_uid, secret.region, secret.name) or secret
            done = r.failed(found, now, reason)
            uow.secrets.save(done)
        log.warning("rotation of secret %s (account %s, %s) failed; ACSCurrent unchanged: %s", secret.name,
                    secret.account_uid, secret.region, reason)  # fmt: skip
        return done

    # --- the scheduler's jobs -----------------------------------------------------------------

    def rotate_due(self) -> list[tuple[Secret, str]]:
        """Every secret whose NextRotationDate has passed, rotated as its account: (secret after, version id)."""
        with self._store.read() as uow:
            due = uow.secrets.due_for_rotation(self._now())
        done: list[tuple[Secret, str]] = []
        for secret in due:
            if secret.secret_type not in self._rotators:
                continue
            version_id = self._ids.new_id()
            try:
                after = self.rotate(Caller(secret.account_uid, secret.region), secret, version_id, scheduled=True)
            except Exception:  # one secret's unforeseen failure must not stop the others' rotations
                log.exception("rotation of secret %s (account %s, %s) stopped", secret.name, secret.account_uid,
                              secret.region)  # fmt: skip
                continue
            if after is not secret:
                done.append((after, version_id))
        return done

    def retire_due(self) -> list[Secret]:
        """Previous credentials past their grace, retired by their rotator (tried again later on failure)."""
        now = self._now()
        with self._store.read() as uow:
            due = uow.secrets.to_retire(now)
        retired: list[Secret] = []
        for secret in due:
            rotator = self._rotators.get(secret.secret_type)
            try:
                if rotator is not None:
                    job, previous = self._job(Caller(secret.account_uid, secret.region), secret, s.PREVIOUS)
                    rotator.retire(job, previous)
                after = r.retired(secret)
            except errors.SecretVersionNotFound:  # no ACSPrevious any more: nothing left to retire
                after = r.retired(secret)
            except errors.KmsError as exc:
                log.warning("secret %s: the previous credential could not be retired: %s", secret.name, exc.message)
                after = replace(secret, retire_at=now + r.RETRY_AFTER)
            with self._store.write() as uow:
                found = uow.secrets.get(secret.account_uid, secret.region, secret.name)
                if found is not None and found.retire_at == secret.retire_at:
                    uow.secrets.save(replace(found, retire_at=after.retire_at))
            if after.retire_at is None:
                retired.append(after)
        return retired
