"""Account-level actions."""

from __future__ import annotations

from typing import Any

from openkms.domain.passwords import DEFAULT_LENGTH, PasswordRules
from openkms.protocol.actions.context import Ctx, Handler


def describe_regions(ctx: Ctx) -> dict[str, Any]:
    return {"Regions": {"Region": [{"RegionId": r.id} for r in ctx.services.account.regions(ctx.caller)]}}


def describe_account_kms_status(ctx: Ctx) -> dict[str, Any]:
    return {"AccountStatus": ctx.services.account.kms_status(ctx.caller)}


def open_kms_service(ctx: Ctx) -> dict[str, Any]:
    ctx.services.account.open_service(ctx.caller)
    return {}


def get_random_password(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    length = p.integer("PasswordLength")
    rules = PasswordRules(
        length=DEFAULT_LENGTH if length is None else length,  # 0 is out of range, not "absent"
        exclude_characters=p.raw("ExcludeCharacters") or "",
        exclude_lowercase=p.flag("ExcludeLowercase"),
        exclude_uppercase=p.flag("ExcludeUppercase"),
        exclude_numbers=p.flag("ExcludeNumbers"),
        exclude_punctuation=p.flag("ExcludePunctuation"),
        require_each_included_type=p.flag("RequireEachIncludedType", default=True),
    )
    return {"RandomPassword": ctx.services.account.random_password(ctx.caller, rules)}


ACTIONS: dict[str, Handler] = {
    "DescribeRegions": describe_regions,
    "DescribeAccountKmsStatus": describe_account_kms_status,
    "OpenKmsService": open_kms_service,
    "GetRandomPassword": get_random_password,
}
