"""A key's details page and the changes made from it: enable, disable, deletion and its
protection, description, rotation, aliases, tags, deleting imported material; and a version's
public key as a download. A refused change is shown next to the form that asked for it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.responses import PlainTextResponse, Response

from openkms.console import forms
from openkms.console.errors import field_message, message_of, status_of
from openkms.console.pages.audit import RECENT_USAGE, USAGE_DAYS, key_usage
from openkms.console.web import Ctx
from openkms.domain import errors, keys, listing, rotation
from openkms.domain.keys import Key
from openkms.domain.specs import Origin
from openkms.domain.states import KeyState
from openkms.service.importing import ImportParameters

log = logging.getLogger("openkms.console")

DONE_MESSAGES = {
    "created": "The key was created.",
    "enable": "The key is enabled.",
    "disable": "The key is disabled.",
    "schedule-deletion": "The key is scheduled for deletion.",
    "cancel-deletion": "The scheduled deletion was cancelled.",
    "protection": "Deletion protection was updated.",
    "description": "The description was updated.",
    "rotation": "The rotation policy was updated.",
    "alias-add": "The alias was added.",
    "alias-remove": "The alias was removed.",
    "tag-add": "The tag was saved.",
    "tag-remove": "The tag was removed.",
    "import-parameters": "The import parameters are ready: download the wrapping public key and the import token.",
    "import-material": "The key material was imported.",
    "delete-material": "The key material was deleted. Import the same material again to use the key.",
}

DELETE_MATERIAL_UNCONFIRMED = "Select the check box to confirm that the key material is to be deleted."


def key_path(key_id: str) -> str:
    return f"/keys/{key_id}"


async def detail(ctx: Ctx) -> Response:
    return await show(ctx)


# What a key's page offers, each shown only when the authorizer would allow it.
KEY_ACTIONS = (
    "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion", "SetDeletionProtection",
    "UpdateKeyDescription", "UpdateRotationPolicy", "CreateAlias", "TagResource", "UntagResource",
    "ListKeyVersions", "ListAliasesByKeyId", "ListResourceTags", "GetKeyPolicy", "GetPublicKey",
    "GetParametersForImport", "ImportKeyMaterial", "DeleteKeyMaterial",
)  # fmt: skip


def _load(ctx: Ctx, ref: str, params_id: str) -> dict[str, Any]:
    """The key and what the caller may see of it (None: not allowed): versions, aliases, tags,
    its policy and who may use it; the actions it may take; an issue of import parameters."""
    s, caller, page = ctx.services, ctx.caller, listing.Page(1, listing.MAX_PAGE_SIZE)
    key = s.keys.describe_key(caller, ref)
    allowed = s.access.on_key(caller, key, KEY_ACTIONS)
    versions = s.versions.list_versions(caller, key.id, page)[1] if "ListKeyVersions" in allowed else None
    aliases = s.aliases.list_aliases_by_key(caller, key.id, page)[0] if "ListAliasesByKeyId" in allowed else None
    may_list_users = "ListUsers" in s.access.on_user(caller, ("ListUsers",))
    see_policy = "GetKeyPolicy" in allowed
    params: ImportParameters | None = None
    params_problem = ""
    if params_id and key.origin is Origin.EXTERNAL and "GetParametersForImport" in allowed:
        try:
            params = s.importing.issued_parameters(caller, key.id, params_id)
        except (errors.InvalidImportToken, errors.ExpiredImportToken) as exc:
            params_problem = f"{message_of(exc)} Get new import parameters."
    return {
        "key": key,
        "allowed": allowed,
        "versions": versions,
        "key_aliases": aliases,
        "deletable_aliases": s.access.deletable_aliases(caller, [a.name for a in aliases or ()]),
        "tags": s.tags.list_tags(caller, key.id)[1] if "ListResourceTags" in allowed else None,
        "key_policy": s.keys.get_policy(caller, key.id, None) if see_policy else None,
        "key_users": s.access.key_users(caller, key.id) if see_policy and may_list_users else None,
        "params": params,
        "params_problem": params_problem,
        "key_stores": s.keys.key_stores(),
        "usage": key_usage(s, caller, key.id),
    }


async def show(ctx: Ctx, problems: dict[str, str] | None = None, status: int = 200) -> Response:
    """The page, with ``problems`` (form -> message) when a change from it was refused."""
    ref, params_id = ctx.path("key_id"), ctx.query("params")  # params: import parameters to offer
    data = await ctx.run(lambda: _load(ctx, ref, params_id))
    key: Key = data["key"]
    params: ImportParameters | None = data["params"]
    wrapping = forms.wrapping_choices(ctx.region.mainland_china)
    context = ctx.page_context(
        "keys",
        **data,
        done=DONE_MESSAGES.get(ctx.query("done"), "") if not problems else "",
        problems=problems or {},
        form=ctx.form,
        key_url=ctx.url(key_path(key.id)),
        usage_label=forms.USAGE_LABELS.get(key.usage, key.usage.value),
        level_label=forms.LEVEL_LABELS.get(key.protection_level, key.protection_level.value),
        origin_label=forms.ORIGIN_LABELS.get(key.origin, key.origin.value),
        rotation_choices=forms.ROTATION_CHOICES,
        rotation_current=_rotation_choice(key),
        min_rotation_days=forms.MIN_ROTATION_DAYS,
        max_rotation_days=forms.MAX_ROTATION_DAYS,
        min_window=keys.MIN_DELETION_WINDOW_DAYS,
        max_window=keys.MAX_DELETION_WINDOW_DAYS,
        default_window=keys.DEFAULT_DELETION_WINDOW_DAYS,
        symmetric=key.spec_info.symmetric,
        external=key.origin is Origin.EXTERNAL,
        states=KeyState,
        key_store_label=forms.key_store_label(key.key_store_id, key.protection_level, data["key_stores"]),
        wrapping=wrapping,
        wrapping_specs=forms.wrapping_specs(wrapping),
        import_url=ctx.url(f"{key_path(key.id)}/import/{params.token_id}") if params is not None else "",
        now=int(ctx.services.clock.now()),
        usage_days=USAGE_DAYS,
        usage_most=RECENT_USAGE,
        usage_url=ctx.url("/audit", key=key.id, range="all"),
        event_url=lambda row: ctx.url(f"/audit/events/{row.event_id}", at=row.time),
    )
    return ctx.render("key.html", context, status)


async def refused(ctx: Ctx, form: str, exc: errors.KmsError | forms.FormError) -> Response:
    """The page again with the refusal next to ``form``; a key that is not there (any more) has
    no page, so that is the error page."""
    if isinstance(exc, forms.FormError):
        return await show(ctx, {form: " ".join(exc.fields.values())}, 400)
    if isinstance(exc, errors.KeyNotFound):
        raise exc
    return await show(ctx, {form: field_message(exc)}, status_of(exc))


async def action(ctx: Ctx) -> Response:
    name, ref = ctx.path("action"), ctx.path("key_id")
    answer = await ctx.change(f"key {ref}", name, _changes(ctx, ref), lambda form, exc: refused(ctx, form, exc))
    return answer or ctx.redirect(key_path(ref), done=name)


def _changes(ctx: Ctx, ref: str) -> dict[str, Callable[[], object]]:
    s, c, f = ctx.services, ctx.caller, ctx.form

    def rotation_policy() -> object:
        enabled, interval = forms.parse_rotation(forms.text(f, "rotation_period"), forms.text(f, "custom_days"))
        return s.versions.update_rotation_policy(c, ref, enabled, interval)

    def add_alias() -> object:
        name = forms.full_alias_name(forms.text(f, "alias"))
        if name is None:
            raise errors.MissingParameter("AliasName")
        return s.aliases.create_alias(c, name, ref)

    def remove_alias() -> object:
        name = forms.text(f, "alias")
        mine, _ = s.aliases.list_aliases_by_key(c, ref, listing.Page(1, listing.MAX_PAGE_SIZE))
        if name not in {a.name for a in mine}:
            raise errors.AliasNotFound()  # a key's page removes only that key's aliases
        s.aliases.delete_alias(c, name)
        return None

    def delete_material() -> object:
        if forms.text(f, "confirm") != "yes":
            raise forms.FormError({"delete-material": DELETE_MATERIAL_UNCONFIRMED})
        return s.importing.delete_material(c, ref)

    return {
        "delete-material": delete_material,
        "enable": lambda: s.keys.enable_key(c, ref),
        "disable": lambda: s.keys.disable_key(c, ref),
        "schedule-deletion": lambda: s.keys.schedule_deletion(c, ref, forms.parse_window(forms.text(f, "window_days"))),
        "cancel-deletion": lambda: s.keys.cancel_deletion(c, ref),
        "protection": lambda: s.keys.set_deletion_protection(
            c, ref, forms.text(f, "enabled") == "yes", forms.text(f, "protection_description")
        ),
        "description": lambda: s.keys.update_description(c, ref, forms.text(f, "description")),
        "rotation": rotation_policy,
        "alias-add": add_alias,
        "alias-remove": remove_alias,
        "tag-add": lambda: s.tags.tag(
            c, [ref], [forms.parse_tag(forms.text(f, "tag_key"), forms.text(f, "tag_value"))]
        ),
        "tag-remove": lambda: s.tags.untag(c, [ref], [forms.text(f, "tag_key")]),
    }


async def public_key(ctx: Ctx) -> Response:
    ref, version_id = ctx.path("key_id"), ctx.path("version_id")
    key_id, version, pem = await ctx.run(lambda: ctx.services.asymmetric.public_key_pem(ctx.caller, ref, version_id))
    return PlainTextResponse(
        pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="publickey-{key_id}-{version}.pem"'},
    )


def _rotation_choice(key: Key) -> tuple[str, str]:
    """The Rotation Period choice (and custom days) that shows a key's current policy."""
    if not key.rotation_enabled or key.rotation_interval is None:
        return forms.ROTATION_DISABLE, ""
    days, rest = divmod(key.rotation_interval, rotation.DAY)
    if rest == 0 and days in rotation.PRESET_DAYS:
        return str(days), ""
    return forms.ROTATION_CUSTOM, str(days) if rest == 0 else f"{key.rotation_interval / rotation.DAY:g}"
