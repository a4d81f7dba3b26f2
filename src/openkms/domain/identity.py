"""Accounts and AccessKey pairs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openkms.domain.app_access import Application

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
    user_name: str = ""  # the RAM user it belongs to; empty: the account's own (root) key


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling and where: every service call is scoped by account and region.

    ``user_name`` is the RAM user whose AccessKey signed the request; empty for the account's own
    (root) keys, which have full access to the account. ``source_ip`` and ``secure_transport``
    are what the entry point saw; policies may condition on them.
    """

    account_uid: str
    region: str
    access_key_id: str = ""
    user_name: str = ""
    source_ip: str = ""
    secure_transport: bool = False
    # An application signing with a client key (the instance gateway): its AAP's policies decide,
    # not RAM's.
    application: Application | None = None

    @property
    def is_root(self) -> bool:
        return not self.user_name

    @property
    def principal_arn(self) -> str:
        if self.is_root:
            return f"acs:ram::{self.account_uid}:root"
        return f"acs:ram::{self.account_uid}:user/{self.user_name}"
