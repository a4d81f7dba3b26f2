"""Request quotas as data: Alibaba's quota classes, which action belongs to which, the profiles of
rates, and the token bucket that enforces one rate.

Alibaba Cloud limits each account's calls per region and per *class* of action (the shared KMS
gateway's published numbers: docs/DEPLOYMENT.md, "Quotas"). ``CLASS_OF`` gives every action of
every API its class; a test walks the dispatch tables, so an action added later without a class
fails the suite instead of going unlimited. A rate is a count per period (one second for most
classes, an hour for RotateSecret), shared out between the nodes and worker processes that serve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class QuotaClass(StrEnum):
    CRYPTO_SYM = "crypto_sym"  # symmetric cryptography and data keys
    CRYPTO_ASYM = "crypto_asym"  # asymmetric cryptography (and the public key)
    MGMT_READ = "mgmt_read"  # reading keys, versions, aliases, policies, the account
    MGMT_WRITE = "mgmt_write"  # changing them
    CREATE_KEY = "create_key"
    LIST_RESOURCE_TAGS = "list_resource_tags"
    OPEN_SERVICE = "open_service"
    SECRET_GET = "secret_get"  # noqa: S105 (a class name) GetSecretValue and its batch form
    SECRET_WRITE = "secret_write"  # noqa: S105 (a class name) CreateSecret, DeleteSecret
    SECRET_LOW = "secret_low"  # noqa: S105 (a class name) the secrets' other, low-frequency, actions
    ROTATE_SECRET = "rotate_secret"  # noqa: S105 (a class name) per hour
    RAM_READ = "ram_read"  # RAM 2015-05-01
    RAM_WRITE = "ram_write"
    TRAIL_LOOKUP = "trail_lookup"  # ActionTrail 2020-07-06


_C = QuotaClass
_MEMBERS: dict[tuple[str, QuotaClass], tuple[str, ...]] = {
    ("kms", _C.CRYPTO_SYM): (
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateAndExportDataKey", "ExportDataKey", "GetRandomPassword",
    ),
    ("kms", _C.CRYPTO_ASYM): (
        "AsymmetricSign", "AsymmetricVerify", "AsymmetricEncrypt", "AsymmetricDecrypt", "GetPublicKey",
    ),
    ("kms", _C.MGMT_READ): (
        "DescribeKey", "ListKeys", "GetKeyPolicy", "ListKeyVersions", "DescribeKeyVersion", "ListAliases",
        "ListAliasesByKeyId", "ListTagResources", "DescribeRegions", "DescribeAccountKmsStatus",
        "ListKmsInstances", "GetKmsInstance", "GetKmsInstanceQuotaInfos", "GetDefaultKmsInstance",
        "DescribeApplicationAccessPoint", "ListApplicationAccessPoints", "GetClientKey", "ListClientKeys",
        "DescribePolicy", "ListPolicies", "DescribeNetworkRule", "ListNetworkRules",
    ),
    ("kms", _C.MGMT_WRITE): (
        "EnableKey", "DisableKey", "UpdateKeyDescription", "ScheduleKeyDeletion", "CancelKeyDeletion",
        "SetDeletionProtection", "SetKeyPolicy", "UpdateRotationPolicy", "CreateKeyVersion", "CreateAlias",
        "UpdateAlias", "DeleteAlias", "TagResource", "UntagResource", "TagResources", "UntagResources",
        "GetParametersForImport", "ImportKeyMaterial", "DeleteKeyMaterial",
        "CreateApplicationAccessPoint", "UpdateApplicationAccessPoint", "DeleteApplicationAccessPoint",
        "CreateClientKey", "DeleteClientKey", "CreatePolicy", "UpdatePolicy", "DeletePolicy",
        "CreateNetworkRule", "UpdateNetworkRule", "DeleteNetworkRule",
    ),
    ("kms", _C.CREATE_KEY): ("CreateKey",),
    ("kms", _C.LIST_RESOURCE_TAGS): ("ListResourceTags",),
    ("kms", _C.OPEN_SERVICE): ("OpenKmsService",),
    ("kms", _C.SECRET_GET): ("GetSecretValue", "BatchGetSecretValue"),
    ("kms", _C.SECRET_WRITE): ("CreateSecret", "DeleteSecret"),
    ("kms", _C.SECRET_LOW): (
        "PutSecretValue", "UpdateSecretVersionStage", "DescribeSecret", "ListSecrets", "ListSecretVersionIds",
        "UpdateSecret", "UpdateSecretRotationPolicy", "RestoreSecret", "GetSecretPolicy", "SetSecretPolicy",
    ),
    ("kms", _C.ROTATE_SECRET): ("RotateSecret",),
    ("ram", _C.RAM_READ): (
        "GetUser", "ListUsers", "ListAccessKeys", "GetPolicy", "ListPolicies", "GetPolicyVersion",
        "ListPolicyVersions", "ListPoliciesForUser", "ListEntitiesForPolicy",
    ),
    ("ram", _C.RAM_WRITE): (
        "CreateUser", "UpdateUser", "DeleteUser", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey",
        "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion", "SetDefaultPolicyVersion",
        "AttachPolicyToUser", "DetachPolicyFromUser",
    ),
    ("actiontrail", _C.TRAIL_LOOKUP): ("LookupEvents",),
    # The instance gateway (protocol/gateway): its operations count in the RPC API's classes.
    ("gateway", _C.CRYPTO_SYM): (
        "Encrypt", "Decrypt", "GenerateDataKey", "AdvanceEncrypt", "AdvanceDecrypt", "AdvanceGenerateDataKey",
        "GenerateRandom",
    ),
    ("gateway", _C.CRYPTO_ASYM): (
        "Sign", "Verify", "GetPublicKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
        "AdvanceGenerateDataKeyPair", "AdvanceGenerateDataKeyPairWithoutPlaintext",
    ),
    ("gateway", _C.SECRET_GET): ("GetSecretValue",),
}  # fmt: skip


def _invert(members: dict[tuple[str, QuotaClass], tuple[str, ...]]) -> dict[tuple[str, str], QuotaClass]:
    table: dict[tuple[str, str], QuotaClass] = {}
    for (service, cls), names in members.items():
        for name in names:
            if (service, name) in table:
                raise ValueError(f"{service}:{name} is in two quota classes")
            table[service, name] = cls
    return table


# (service, Action) -> class: "kms", "ram" and "actiontrail", as domain/actions.py names them, and
# "gateway", the instance gateway's operations (protocol/gateway/operations.py).
CLASS_OF: dict[tuple[str, str], QuotaClass] = _invert(_MEMBERS)


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``per_seconds``."""

    count: float
    per_seconds: float = 1.0

    @property
    def per_second(self) -> float:
        return self.count / self.per_seconds

    def share(self, parts: int) -> Rate:
        """One of ``parts`` equal shares (a node's of the cluster's, a worker's of its node's)."""
        return Rate(self.count / max(parts, 1), self.per_seconds)


# The period of each class's numbers: RotateSecret's is an hour, every other's a second.
PERIOD: dict[QuotaClass, float] = {cls: 3600.0 if cls is _C.ROTATE_SECRET else 1.0 for cls in QuotaClass}

UNLIMITED = "unlimited"
ALIBABA_SHARED = "alibaba-shared"

# Alibaba's per-account, per-region numbers for the shared KMS gateway (wave2-design-notes.md §4).
# RAM and ActionTrail publish none comparable that the spec captured: unlimited unless overridden.
_ALIBABA: dict[QuotaClass, float] = {
    _C.CRYPTO_SYM: 1000, _C.CRYPTO_ASYM: 200, _C.MGMT_READ: 50, _C.MGMT_WRITE: 30, _C.CREATE_KEY: 10,
    _C.LIST_RESOURCE_TAGS: 300, _C.OPEN_SERVICE: 1, _C.SECRET_GET: 450, _C.SECRET_WRITE: 10, _C.SECRET_LOW: 40,
    _C.ROTATE_SECRET: 50,
}  # fmt: skip

# profile -> class -> rate; a class a profile does not name is unlimited.
PROFILES: dict[str, dict[QuotaClass, Rate]] = {
    UNLIMITED: {},
    ALIBABA_SHARED: {cls: Rate(count, PERIOD[cls]) for cls, count in _ALIBABA.items()},
}


@dataclass(frozen=True, slots=True)
class QuotaPlan:
    """The configured quotas: a profile, and per-account rates that replace its rate of a class."""

    profile: str = UNLIMITED
    overrides: tuple[tuple[str, QuotaClass, Rate], ...] = ()  # (account uid, class, rate)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown quota profile {self.profile!r} (known: {', '.join(PROFILES)})")

    @property
    def unlimited(self) -> bool:
        return not PROFILES[self.profile] and not self.overrides

    def rates(self) -> dict[tuple[str, QuotaClass], Rate]:
        """(account uid or "" for every account, class) -> rate, the overrides over the profile."""
        table: dict[tuple[str, QuotaClass], Rate] = {("", cls): rate for cls, rate in PROFILES[self.profile].items()}
        for account, cls, rate in self.overrides:
            table[account, cls] = rate
        return table


# Seconds since the epoch hold about a quarter of a microsecond in a double: a bucket refilled
# for exactly one token's time may fall short of one by that much.
_EPSILON = 1e-6


class TokenBucket:
    """One rate's bucket: holds up to one period's worth of requests (at least one), refilled
    continuously. Not thread-safe: its owner holds a lock."""

    __slots__ = ("_at", "_tokens")

    def __init__(self, now: float, capacity: float) -> None:
        self._tokens = capacity
        self._at = now

    def take(self, now: float, rate: Rate) -> float:
        """0.0 when a request may go ahead (one token taken), else the seconds until one could."""
        per_second = rate.per_second
        capacity = max(rate.count, 1.0)
        # A clock set back refills nothing (and takes nothing back).
        elapsed = max(now - self._at, 0.0)
        self._tokens = min(capacity, self._tokens + elapsed * per_second)
        self._at = max(now, self._at)
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens = max(self._tokens - 1.0, 0.0)
            return 0.0
        return (1.0 - self._tokens) / per_second


def retry_after_seconds(wait: float) -> int:
    """The whole seconds a Retry-After header says: never 0, which clients read as 'at once'."""
    return max(1, math.ceil(wait))
