"""Key lifecycle actions."""

from __future__ import annotations

from typing import Any

from openkms.domain import errors, listing, rotation
from openkms.domain.keys import DEFAULT_DELETION_WINDOW_DAYS
from openkms.domain.specs import (
    DEFAULT_ORIGIN,
    DEFAULT_PROTECTION_LEVEL,
    DEFAULT_SPEC,
    parse_origin,
    parse_protection_level,
    parse_usage,
)
from openkms.domain.tags import Tag, validate_tag
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.shape import key_metadata, page_fields
from openkms.service.keys import CreateKeyRequest


def parse_tags(ctx: Ctx, name: str = "Tags") -> list[Tag]:
    """``[{"TagKey":"k","TagValue":"v"}, ...]``"""
    raw = ctx.p.json(name)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise errors.InvalidParameter(name, 'Use [{"TagKey":"k","TagValue":"v"}].')
    tags = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("TagKey"), str):
            raise errors.InvalidParameter(name, 'Use [{"TagKey":"k","TagValue":"v"}].')
        value = item.get("TagValue", "")
        if not isinstance(value, str):
            raise errors.InvalidParameter(name, "A TagValue must be a string.")
        tags.append(validate_tag(item["TagKey"], value, name))
    return tags


def create_key(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    rotation_enabled = p.flag("EnableAutomaticRotation")
    interval_text = p.raw("RotationInterval")
    interval = rotation.parse_interval(interval_text) if rotation_enabled and interval_text else None
    usage, origin, level = p.raw("KeyUsage"), p.raw("Origin"), p.raw("ProtectionLevel")
    req = CreateKeyRequest(
        spec=p.raw("KeySpec") or DEFAULT_SPEC,
        usage=parse_usage(usage) if usage else None,  # None: the spec's default usage
        origin=parse_origin(origin) if origin else DEFAULT_ORIGIN,
        protection_level=parse_protection_level(level) if level else DEFAULT_PROTECTION_LEVEL,
        description=p.raw("Description") or "",
        rotation_enabled=rotation_enabled,
        rotation_interval=interval,
        tags=parse_tags(ctx),
        policy=p.raw("Policy"),
        key_store_id=p.raw("DKMSInstanceId") or "",
    )
    key = ctx.services.keys.create_key(ctx.caller, req)
    return {"KeyMetadata": key_metadata(key)}


def describe_key(ctx: Ctx) -> dict[str, Any]:
    key = ctx.services.keys.describe_key(ctx.caller, ctx.p.required("KeyId"))
    return {"KeyMetadata": key_metadata(key)}


def parse_filters(ctx: Ctx) -> list[listing.Filter]:
    raw = ctx.p.json("Filters")
    if raw is None:
        return []
    shape = 'Use [{"Key":"KeyState","Values":["Enabled"]}].'
    if not isinstance(raw, list):
        raise errors.InvalidParameter("Filters", shape)
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
            raise errors.InvalidParameter("Filters", shape)
        values = item.get("Values")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise errors.InvalidParameter("Filters", shape)
        out.append(listing.Filter(item["Key"], tuple(values)))
    return out


def list_keys(ctx: Ctx) -> dict[str, Any]:
    page = ctx.page()
    found, total = ctx.services.keys.list_keys(ctx.caller, page, parse_filters(ctx))
    return {
        "Keys": {"Key": [{"KeyId": k.id, "KeyArn": k.arn()} for k in found]},
        **page_fields(page.number, page.size, total),
    }


def update_key_description(ctx: Ctx) -> dict[str, Any]:
    description = ctx.p.raw("Description")
    if not ctx.p.present("Description"):  # an empty description clears it
        raise errors.MissingParameter("Description")
    ctx.services.keys.update_description(ctx.caller, ctx.p.required("KeyId"), description or "")
    return {}


def enable_key(ctx: Ctx) -> dict[str, Any]:
    ctx.services.keys.enable_key(ctx.caller, ctx.p.required("KeyId"))
    return {}


def disable_key(ctx: Ctx) -> dict[str, Any]:
    ctx.services.keys.disable_key(ctx.caller, ctx.p.required("KeyId"))
    return {}


def schedule_key_deletion(ctx: Ctx) -> dict[str, Any]:
    days = ctx.p.integer("PendingWindowInDays")
    window = DEFAULT_DELETION_WINDOW_DAYS if days is None else days
    ctx.services.keys.schedule_deletion(ctx.caller, ctx.p.required("KeyId"), window)
    return {}


def cancel_key_deletion(ctx: Ctx) -> dict[str, Any]:
    ctx.services.keys.cancel_deletion(ctx.caller, ctx.p.required("KeyId"))
    return {}


def set_deletion_protection(ctx: Ctx) -> dict[str, Any]:
    # The old SDK has no KeyId here, only ProtectedResourceArn; the new SDK may send both.
    ref = ctx.p.raw("KeyId") or ctx.p.raw("ProtectedResourceArn")
    if ref is None:
        raise errors.MissingParameter("ProtectedResourceArn")
    enabled = ctx.p.required_flag("EnableDeletionProtection")
    description = ctx.p.raw("DeletionProtectionDescription") or ""
    ctx.services.keys.set_deletion_protection(ctx.caller, ref, enabled, description)
    return {}


def get_key_policy(ctx: Ctx) -> dict[str, Any]:
    text = ctx.services.keys.get_policy(ctx.caller, ctx.p.required("KeyId"), ctx.p.raw("PolicyName"))
    return {"Policy": text}


def set_key_policy(ctx: Ctx) -> dict[str, Any]:
    ctx.services.keys.set_policy(ctx.caller, ctx.p.required("KeyId"), ctx.p.raw("PolicyName"), ctx.p.required("Policy"))
    return {}


ACTIONS: dict[str, Handler] = {
    "CreateKey": create_key,
    "DescribeKey": describe_key,
    "ListKeys": list_keys,
    "UpdateKeyDescription": update_key_description,
    "EnableKey": enable_key,
    "DisableKey": disable_key,
    "ScheduleKeyDeletion": schedule_key_deletion,
    "CancelKeyDeletion": cancel_key_deletion,
    "SetDeletionProtection": set_deletion_protection,
    "GetKeyPolicy": get_key_policy,
    "SetKeyPolicy": set_key_policy,
}
