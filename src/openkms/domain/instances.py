"""KMS instances: openkms's key stores, as Alibaba's instance API names them.

Every key store is an instance: a configured ``[[keystores]]`` entry under its own id, openkms's
own default store (id ``""``: software keys and its own HSM) under ``DEFAULT_INSTANCE``. The
instance API only reads: instances are configured, never bought or released through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openkms.domain import errors

# The instance id of the default key store (whose keys carry key_store_id ""): a kst- id as
# Alibaba's are, so that SDKs that check the form accept it.
DEFAULT_INSTANCE = "kst-openkms-default"


class QuotaResource(StrEnum):
    KEY = "KEY"
    SECRET = "SECRET"  # noqa: S105 (a resource type's name)
    VPC = "VPC"


@dataclass(frozen=True, slots=True)
class Instance:
    id: str  # the instance id (DEFAULT_INSTANCE for the default store)
    store_id: str  # the key store's id as keys name it ("" for the default store)
    description: str
    available: bool


@dataclass(frozen=True, slots=True)
class InstanceUsage:
    instance: Instance
    region: str
    keys: int
    secrets: int


def instance_id(store_id: str) -> str:
    return store_id or DEFAULT_INSTANCE


def store_id(instance: str) -> str:
    """The key store an instance id names (the default store for DEFAULT_INSTANCE or "")."""
    return "" if instance in ("", DEFAULT_INSTANCE) else instance


def arn(region: str, account_uid: str, instance: str) -> str:
    return f"acs:kms:{region}:{account_uid}:keystore/{instance}"


def quota_resource(text: str | None) -> QuotaResource | None:
    """GetKmsInstanceQuotaInfos' ResourceType (absent: every type)."""
    if not text:
        return None
    try:
        return QuotaResource(text.upper())
    except ValueError:
        raise errors.InvalidParameter("ResourceType", "ResourceType is KEY, SECRET or VPC.") from None
