"""Key version and rotation actions."""

from __future__ import annotations

from typing import Any

from openkms.domain import rotation
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.shape import key_version, page_fields


def list_key_versions(ctx: Ctx) -> dict[str, Any]:
    page = ctx.page()
    _, versions, total = ctx.services.versions.list_versions(ctx.caller, ctx.p.required("KeyId"), page)
    return {
        "KeyVersions": {"KeyVersion": [key_version(v) for v in versions]},
        **page_fields(page.number, page.size, total),
    }


def describe_key_version(ctx: Ctx) -> dict[str, Any]:
    version = ctx.services.versions.describe_version(
        ctx.caller, ctx.p.required("KeyId"), ctx.p.required("KeyVersionId")
    )
    return {"KeyVersion": key_version(version)}


def update_rotation_policy(ctx: Ctx) -> dict[str, Any]:
    enabled = ctx.p.required_flag("EnableAutomaticRotation")
    text = ctx.p.raw("RotationInterval")
    interval = rotation.parse_interval(text) if enabled and text else None
    ctx.services.versions.update_rotation_policy(ctx.caller, ctx.p.required("KeyId"), enabled, interval)
    return {}


def create_key_version(ctx: Ctx) -> dict[str, Any]:
    version = ctx.services.versions.create_key_version(ctx.caller, ctx.p.required("KeyId"))
    return {"KeyVersion": key_version(version)}


ACTIONS: dict[str, Handler] = {
    "ListKeyVersions": list_key_versions,
    "DescribeKeyVersion": describe_key_version,
    "UpdateRotationPolicy": update_rotation_policy,
    "CreateKeyVersion": create_key_version,
}
