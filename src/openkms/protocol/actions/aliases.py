"""Alias actions."""

from __future__ import annotations

from typing import Any

from openkms.domain.aliases import Alias
from openkms.domain.keys import alias_arn
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.actions.shape import page_fields


def _alias(a: Alias) -> dict[str, Any]:
    return {"AliasName": a.name, "KeyId": a.key_id, "AliasArn": alias_arn(a.region, a.account_uid, a.name)}


def create_alias(ctx: Ctx) -> dict[str, Any]:
    ctx.services.aliases.create_alias(ctx.caller, ctx.p.required("AliasName"), ctx.p.required("KeyId"))
    return {}


def update_alias(ctx: Ctx) -> dict[str, Any]:
    ctx.services.aliases.update_alias(ctx.caller, ctx.p.required("AliasName"), ctx.p.required("KeyId"))
    return {}


def delete_alias(ctx: Ctx) -> dict[str, Any]:
    ctx.services.aliases.delete_alias(ctx.caller, ctx.p.required("AliasName"))
    return {}


def list_aliases(ctx: Ctx) -> dict[str, Any]:
    page = ctx.page()
    found, total = ctx.services.aliases.list_aliases(ctx.caller, page)
    return {"Aliases": {"Alias": [_alias(a) for a in found]}, **page_fields(page.number, page.size, total)}


def list_aliases_by_key_id(ctx: Ctx) -> dict[str, Any]:
    page = ctx.page()
    found, total = ctx.services.aliases.list_aliases_by_key(ctx.caller, ctx.p.required("KeyId"), page)
    return {"Aliases": {"Alias": [_alias(a) for a in found]}, **page_fields(page.number, page.size, total)}


ACTIONS: dict[str, Handler] = {
    "CreateAlias": create_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
    "ListAliasesByKeyId": list_aliases_by_key_id,
}
