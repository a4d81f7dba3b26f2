"""The RAMCredentials rotator for openkms's own AccessKeys: a RAMCredentials secret's
ExtendedConfig names a RAM user of the secret's account (``UserName``), its value is one of the
user's pairs (``AccessKeyId``, ``AccessKeySecret``). A rotation issues the user a new pair; the old
one keeps working for the grace period (applications holding it refresh in the meantime) and is
then disabled by the scheduler.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from openkms.domain import errors
from openkms.domain import secret_rotation as r
from openkms.domain.identity import AccessKeyStatus
from openkms.domain.ports import Clock, Store
from openkms.domain.ram.identities import ACCESS_KEYS_PER_USER
from openkms.domain.secret_rotation import RotationJob
from openkms.service.identity import IdentityService


def _user(job: RotationJob) -> str:
    name = r.config(job.secret).get("UserName")
    if not isinstance(name, str) or not name:
        raise errors.SecretRotationFailed("ExtendedConfig names no UserName.")
    return name


def _access_key_id(value: str) -> str:
    found = r.credential(value).get("AccessKeyId")
    if not isinstance(found, str) or not found:
        raise errors.SecretRotationFailed("The secret's value has no AccessKeyId.")
    return found


class RamCredentialsRotator:
    def __init__(self, store: Store, identity: IdentityService, clock: Clock, grace: int) -> None:
        self._store = store
        self._identity = identity
        self._clock = clock
        self._grace = grace

    @property
    def grace(self) -> int:
        return self._grace

    def new_value(self, job: RotationJob) -> str:
        """A new pair for the user. RAM allows two pairs a user: a pair an earlier rotation
        disabled is deleted to make room; one still in its grace period is not."""
        secret, user = job.secret, _user(job)
        with self._store.write() as uow:
            if uow.users.get(secret.account_uid, user) is None:
                raise errors.SecretRotationFailed(f"The RAM user {user} does not exist.")
            held = uow.access_keys.list_for_user(secret.account_uid, user)
            for ak in held:
                if ak.status is AccessKeyStatus.DISABLED and len(held) >= ACCESS_KEYS_PER_USER:
                    uow.access_keys.delete(ak.id)
                    held = [k for k in held if k.id != ak.id]
            if len(held) >= ACCESS_KEYS_PER_USER:
                raise errors.SecretRotationFailed(
                    f"The RAM user {user} has {ACCESS_KEYS_PER_USER} enabled AccessKeys; the previous "
                    "rotation's is retired when its grace period ends."
                )
            issued = self._identity.issue(uow, secret.account_uid, user, f"RAMCredentials secret {secret.name}")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock.now()))
        value = {"AccessKeyId": issued.access_key.id, "AccessKeySecret": issued.secret, "GenerateTimestamp": stamp}
        return json.dumps(value)

    def apply(self, job: RotationJob, pending: str) -> None:
        """The pair is in force once issued: check that it signs as the user, enabled."""
        value = r.credential(pending)
        try:
            found = self._identity.credential(_access_key_id(pending))
        except errors.AccessKeyNotFound:
            raise errors.SecretRotationFailed("The new AccessKey does not exist.") from None
        if not (found.enabled and found.user_name == _user(job) and found.secret == value.get("AccessKeySecret")):
            raise errors.SecretRotationFailed("The new AccessKey does not sign for the user.")

    def retire(self, job: RotationJob, previous: str) -> None:
        ak_id, user = _access_key_id(previous), _user(job)
        with self._store.write() as uow:
            ak = uow.access_keys.get(ak_id)
            if ak is None or ak.account_uid != job.secret.account_uid or ak.user_name != user:
                return  # deleted already, or not the user's: nothing of ours to disable
            uow.access_keys.save(replace(ak, status=AccessKeyStatus.DISABLED))
