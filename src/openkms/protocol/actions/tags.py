"""Tag actions: per key (TagResource family) and in batches (TagResources family)."""

from __future__ import annotations

from typing import Any

from openkms.domain import errors
from openkms.domain.actions import action
from openkms.domain.tags import Tag, validate_tag
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.keys import parse_tags
from openkms.service.tags import MAX_BATCH_RESOURCES, MAX_BATCH_TAGS, TagResourceRow, page_rows


def _single_key(ctx: Ctx) -> str:
    if ctx.p.raw("CertificateId"):
        raise errors.UnsupportedOperation("openkms manages keys and secrets, not certificates.")
    return ctx.p.required("KeyId")


def _secret(ctx: Ctx) -> str | None:
    """The SecretName a per-resource tag action names instead of a KeyId, if it names one."""
    return ctx.p.raw("SecretName") if not ctx.p.raw("KeyId") else None


def _resource_type(ctx: Ctx) -> bool:
    """True for ResourceType=secret, False for key."""
    kind = ctx.p.required("ResourceType").lower()
    if kind not in ("key", "secret"):
        raise errors.InvalidParameter("ResourceType", "Use ResourceType=key or ResourceType=secret.")
    return kind == "secret"


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
    secret = _secret(ctx)
    if secret is not None:
        ctx.services.secrets.tag(ctx.caller, [secret], tags, action("TagResource"))
        return {}
    ctx.services.tags.tag(ctx.caller, [_single_key(ctx)], tags)
    return {}


def untag_resource(ctx: Ctx) -> dict[str, Any]:
    secret = _secret(ctx)
    if secret is not None:
        ctx.services.secrets.untag(ctx.caller, [secret], _tag_keys(ctx), action("UntagResource"))
        return {}
    ctx.services.tags.untag(ctx.caller, [_single_key(ctx)], _tag_keys(ctx))
    return {}


def list_resource_tags(ctx: Ctx) -> dict[str, Any]:
    # ListResourceTags names keys only (neither SDK has a SecretName for it): a secret's tags are
    # DescribeSecret's (FetchTags) and ListTagResources'.
    key_id, tags = ctx.services.tags.list_tags(ctx.caller, ctx.p.required("KeyId"))
    return {"Tags": {"Tag": [{"KeyId": key_id, "TagKey": t.key, "TagValue": t.value} for t in tags]}}


def _resource_ids(ctx: Ctx, required: bool) -> list[str]:
    ids = ctx.p.indexed("ResourceId", MAX_BATCH_RESOURCES)
    if required and not ids:
        raise errors.MissingParameter("ResourceId.1")
    return ids


def tag_resources(ctx: Ctx) -> dict[str, Any]:
    secrets = _resource_type(ctx)
    ids = _resource_ids(ctx, required=True)
    tags = [validate_tag(k, v, "Tag") for k, v in ctx.p.indexed_pairs("Tag", MAX_BATCH_TAGS)]
    if not tags:
        raise errors.MissingParameter("Tag.1.Key")
    if secrets:
        ctx.services.secrets.tag(ctx.caller, ids, tags, action("TagResources"))
    else:
        ctx.services.tags.tag(ctx.caller, ids, tags, batch=True)
    return {}


def untag_resources(ctx: Ctx) -> dict[str, Any]:
    secrets = _resource_type(ctx)
    ids = _resource_ids(ctx, required=True)
    keys = ctx.p.indexed("TagKey", MAX_BATCH_TAGS)
    if not keys and not ctx.p.flag("All"):
        raise errors.MissingParameter("TagKey.1")
    # All=true removes every tag, but only when no TagKey is given.
    if secrets:
        ctx.services.secrets.untag(ctx.caller, ids, keys or None, action("UntagResources"))
    else:
        ctx.services.tags.untag(ctx.caller, ids, keys or None, batch=True)
    return {}


def list_tag_resources(ctx: Ctx) -> dict[str, Any]:
    secrets = _resource_type(ctx)
    ids = _resource_ids(ctx, required=False)
    wanted = [Tag(k, v) for k, v in ctx.p.indexed_pairs("Tag", MAX_BATCH_TAGS)]
    if secrets:
        found = ctx.services.secrets.tagged(ctx.caller, ids, action("ListTagResources"))
        rows = [TagResourceRow(x.name, t.key, t.value) for x in found for t in x.tags if _wanted(t, wanted)]
        rows, token = page_rows(rows, ctx.p.raw("NextToken"))
    else:
        rows, token = ctx.services.tags.list_tag_resources(ctx.caller, ids, wanted, ctx.p.raw("NextToken"))
    kind = "secret" if secrets else "key"
    return {
        "NextToken": token,
        "TagResources": {
            "TagResource": [
                {"ResourceId": r.resource_id, "ResourceType": kind, "TagKey": r.key, "TagValue": r.value} for r in rows
            ]
        },
    }


def _wanted(tag: Tag, wanted: list[Tag]) -> bool:
    return not wanted or any(w.key == tag.key and (not w.value or w.value == tag.value) for w in wanted)


ACTIONS: dict[str, Handler] = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListResourceTags": list_resource_tags,
    "TagResources": tag_resources,
    "UntagResources": untag_resources,
    "ListTagResources": list_tag_resources,
}
