"""Accounts and AccessKey pairs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AccessKeyStatus(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"


@dataclass(frozen=True, slots=True)
class Account:
    uid: str
    created_at: int


@dataclass(frozen=True, slots=True)
class AccessKey:
    id: str
    account_uid: str
    # The secret sealed under the root key with the key's id as associated data.
    sealed_secret: bytes
    status: AccessKeyStatus
    created_at: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling and where: every service call is scoped by account and region."""

    account_uid: str
    region: str
    access_key_id: str = ""
