"""Rotation of managed secrets (Rds, PolarDB, RAMCredentials, ...): the rotator port, and the rules
of a rotation's dates and outcome as pure functions.

A rotation runs in three steps so that a credential is never lost and never half-adopted: the
rotator makes a new value (``new_value``), the service stores it as a version staged
``ACSPending``, the rotator makes it effective and checks it works (``apply``), and only then does
``ACSCurrent`` move to it. A failure at any step leaves the previous version current, and the
secret carries the reason (``rotation_error``, shown by DescribeSecret) until a rotation succeeds.
A rotator whose old credential keeps working for a while (an AccessKey) retires it on the
scheduler once ``retire_at`` has passed.
"""

from __future__ import annotations

import json
import secrets as random
import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from openkms.domain import errors
from openkms.domain.secrets import HOUR, Secret

RETRY_AFTER = HOUR  # a failed or interrupted rotation is tried again this much later, not every run
MAX_ERROR_LENGTH = 512
PASSWORD_LENGTH = 32
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_.~"  # nothing a connection string quotes


@dataclass(frozen=True)
class RotationJob:
    """What a rotator gets: the secret, its ACSCurrent value, and a reader of another secret of the
    same account and region (an administrator credential), as the caller that asked may read it."""

    secret: Secret
    current: str = field(repr=False)
    read_secret: Callable[[str], str] = field(repr=False)


class Rotator(Protocol):
    """Rotation for one secret type. Each step raises ``SecretRotationFailed`` with a message that
    names what failed and never a credential."""

    @property
    def grace(self) -> int:
        """Seconds the previous credential keeps working after a rotation; 0: retire nothing."""
        ...

    def new_value(self, job: RotationJob) -> str:
        """The next version's value (text): a new credential, not yet relied on."""
        ...

    def apply(self, job: RotationJob, pending: str) -> None:
        """Make ``pending`` the credential in force and check a log-on with it."""
        ...

    def retire(self, job: RotationJob, previous: str) -> None:
        """Stop the credential ``previous`` (the ACSPrevious version) from working."""
        ...


def credential(text: str) -> dict[str, Any]:
    """A managed secret's value: a JSON object (Rds: AccountName and AccountPassword)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise errors.SecretRotationFailed("The secret's value is not a JSON object.") from None
    if not isinstance(value, dict):
        raise errors.SecretRotationFailed("The secret's value is not a JSON object.")
    return value


def config(secret: Secret) -> dict[str, Any]:
    """The secret's ExtendedConfig with its CustomData merged in (CustomData wins)."""
    try:
        top = json.loads(secret.extended_config or "{}")
    except ValueError:
        raise errors.SecretRotationFailed("ExtendedConfig is not a JSON object.") from None
    if not isinstance(top, dict):
        raise errors.SecretRotationFailed("ExtendedConfig is not a JSON object.")
    custom = top.get("CustomData")
    return {**top, **(custom if isinstance(custom, dict) else {})}


def new_password(length: int = PASSWORD_LENGTH) -> str:
    return "".join(random.choice(_PASSWORD_ALPHABET) for _ in range(length))


def is_due(secret: Secret, now: int) -> bool:
    return (
        secret.rotation_enabled
        and secret.delete_at is None
        and secret.next_rotation_at is not None
        and secret.next_rotation_at <= now
    )


def claimed(secret: Secret, now: int) -> Secret:
    """Taken by one runner: not due again for the others, nor every run if this one dies."""
    nxt = now + RETRY_AFTER if secret.rotation_enabled else secret.next_rotation_at
    return replace(secret, next_rotation_at=nxt, updated_at=now)


def succeeded(secret: Secret, now: int, grace: int) -> Secret:
    nxt = now + secret.rotation_interval if secret.rotation_enabled and secret.rotation_interval else None
    return replace(
        secret,
        last_rotation_at=now,
        next_rotation_at=nxt,
        rotation_error=None,
        retire_at=now + grace if grace > 0 else None,
        updated_at=now,
    )


def failed(secret: Secret, now: int, reason: str) -> Secret:
    nxt = now + RETRY_AFTER if secret.rotation_enabled else secret.next_rotation_at
    return replace(secret, rotation_error=reason[:MAX_ERROR_LENGTH], next_rotation_at=nxt, updated_at=now)


def retired(secret: Secret) -> Secret:
    return replace(secret, retire_at=None)
