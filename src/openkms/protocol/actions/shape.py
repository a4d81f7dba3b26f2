"""Shapes domain objects into the API's response fields."""

from __future__ import annotations

import base64
import time
from typing import Any

from openkms.domain.keys import Key, KeyVersion


def b64(data: bytes) -> str:
    """Binary response fields (blobs, signatures, keys) are standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def iso(ts: int | None) -> str:
    """``YYYY-MM-DDThh:mm:ssZ``; an unset time is an empty string, as the API does."""
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def key_metadata(key: Key) -> dict[str, Any]:
    nxt = key.next_rotation_at
    return {
        "KeyId": key.id,
        "Arn": key.arn(),
        "KeySpec": key.spec,
        "KeyUsage": key.usage.value,
        "KeyState": key.state.value,
        "Origin": key.origin.value,
        "ProtectionLevel": key.protection_level.value,
        "Description": key.description,
        "Creator": key.creator,
        "CreationDate": iso(key.created_at),
        "PrimaryKeyVersion": key.primary_version_id or "",
        "LastRotationDate": iso(key.last_rotation_at),
        "AutomaticRotation": key.rotation_status.value,
        "RotationInterval": f"{key.rotation_interval}s" if key.rotation_enabled and key.rotation_interval else "",
        "NextRotationDate": iso(nxt),
        "DeleteDate": iso(key.delete_at),
        "MaterialExpireTime": iso(key.material_expire_at),
        "DeletionProtection": "Enabled" if key.deletion_protection else "Disabled",
        "DeletionProtectionDescription": key.deletion_protection_description,
        "DKMSInstanceId": key.key_store_id,
    }


def key_version(version: KeyVersion) -> dict[str, Any]:
    return {"KeyId": version.key_id, "KeyVersionId": version.id, "CreationDate": iso(version.created_at)}


def page_fields(number: int, size: int, total: int) -> dict[str, Any]:
    return {"TotalCount": total, "PageNumber": number, "PageSize": size}
