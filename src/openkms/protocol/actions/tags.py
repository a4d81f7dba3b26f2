"""Tag actions: per key (TagResource family) and in batches (TagResources family)."""

from __future__ import annotations

from typing import Any

from openkms.domain import errors
from openkms.domain.tags import Tag, validate_tag
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.keys import parse_tags
from openkms.service.tags import MAX_BATCH_RESOURCES, MAX_BATCH_TAGS


def _single_key(ctx: Ctx) -> str:
    if ctx.p.raw("SecretName") or ctx.p.raw("CertificateId"):
        raise errors.UnsupportedOperation("openkms manages keys only, not secrets or certificates.")
    return ctx.p.required("KeyId")


def _resource_type(ctx: Ctx) -> None:
    if ctx.p.required("ResourceType").lower() != "key":
        raise errors.InvalidParameter("ResourceType", "openkms manages keys only: use ResourceType=key.")


def _tag_keys(ctx: Ctx) -> list[str]:
    raw = ctx.p.required("TagKeys")
    value = ctx.p.json("TagKeys") if raw.lstrip().startswith("[") else [k.strip() for k in raw.split(",")]
    if not isinstance(value, list) or not all(isinstance(k, str) and k for k in value):
        raise errors.InvalidParameter("TagKeys", 'Use ["key1","key2"] or key1,key2.')
    return value


def tag_resource(ctx: Ctx) -> dict[str, Any]:
    tags = parse_tags(ctx)
    if not tags:
        raise errors.MissingParameter("Tags")
    ctx.services.tags.tag(ctx.caller, [_single_key(ctx)], tags)
    return {}


def untag_resource(ctx: Ctx) -> dict[str, Any]:
    ctx.services.tags.untag(ctx.caller, [_single_key(ctx)], _tag_keys(ctx))
    return {}


def list_resource_tags(ctx: Ctx) -> dict[str, Any]:
    key_id, tags = ctx.services.tags.list_tags(ctx.caller, ctx.p.required("KeyId"))
    return {"Tags": {"Tag": [{"KeyId": key_id, "TagKey": t.key, "TagValue": t.value} for t in tags]}}


def _resource_ids(ctx: Ctx, required: bool) -> list[str]:
    ids = ctx.p.indexed("ResourceId", MAX_BATCH_RESOURCES)
    if required and not ids:
        raise errors.MissingParameter("ResourceId.1")
    return ids


def tag_resources(ctx: Ctx) -> dict[str, Any]:
    _resource_type(ctx)
    ids = _resource_ids(ctx, required=True)
    tags = [validate_tag(k, v, "Tag") for k, v in ctx.p.indexed_pairs("Tag", MAX_BATCH_TAGS)]
    if not tags:
        raise errors.MissingParameter("Tag.1.Key")
    ctx.services.tags.tag(ctx.caller, ids, tags, batch=True)
    return {}


def untag_resources(ctx: Ctx) -> dict[str, Any]:
    _resource_type(ctx)
    ids = _resource_ids(ctx, required=True)
    keys = ctx.p.indexed("TagKey", MAX_BATCH_TAGS)
    if not keys and not ctx.p.flag("All"):
        raise errors.MissingParameter("TagKey.1")
    # All=true removes every tag, but only when no TagKey is given.
    ctx.services.tags.untag(ctx.caller, ids, keys or None, batch=True)
    return {}


def list_tag_resources(ctx: Ctx) -> dict[str, Any]:
    _resource_type(ctx)
    ids = _resource_ids(ctx, required=False)
    wanted = [Tag(k, v) for k, v in ctx.p.indexed_pairs("Tag", MAX_BATCH_TAGS)]
    rows, token = ctx.services.tags.list_tag_resources(ctx.caller, ids, wanted, ctx.p.raw("NextToken"))
    return {
        "NextToken": token,
        "TagResources": {
            "TagResource": [
                {"ResourceId": r.resource_id, "ResourceType": "key", "TagKey": r.key, "TagValue": r.value} for r in rows
            ]
        },
    }


ACTIONS: dict[str, Handler] = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListResourceTags": list_resource_tags,
    "TagResources": tag_resources,
    "UntagResources": untag_resources,
    "ListTagResources": list_tag_resources,
}
