"""Accounts and AccessKey pairs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# A signed request is accepted while its timestamp is within this many seconds of the server's
# clock, either side.
MAX_SKEW_SECONDS = 15 * 60
# So a nonce must be remembered for the whole span a request can be valid in: a request dated
# MAX_SKEW ahead stays acceptable until MAX_SKEW after it; remembering nonces for only MAX_SKEW
# would let it be replayed in the second half.
NONCE_MEMORY_SECONDS = 2 * MAX_SKEW_SECONDS


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
