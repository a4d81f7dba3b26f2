"""RAM policies: the list (System / Custom), the create form with its JSON editor, a policy's page
with its versions and the users it is attached to, and the changes made from it — create a
version, set the default, delete a version, attach to and detach from users, delete the policy.

A document is checked by the service when it is stored: a malformed one is refused next to the
editor with its line (MalformedPolicyDocument's ``detail``), never stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from openkms.console import forms
from openkms.console.errors import FormFields, field_message, status_of
from openkms.console.web import Ctx
from openkms.domain import errors
from openkms.domain.errors import ErrorKind
from openkms.domain.ram.identities import PolicyType, RotateStrategy, parse_policy_type
from openkms.service.ram_users import Page

log = logging.getLogger("openkms.console")

EVERYTHING = Page(max_items=10_000)

# The create and new-version forms. A malformed document names no parameter: it is the editor's.
POLICY_FIELDS = FormFields(
    {"PolicyName": "policy_name", "Description": "description", "PolicyDocument": "document"},
    {ErrorKind.INVALID: "document"},
)
POLICY_ACTIONS = (
    "DeletePolicy", "CreatePolicyVersion", "ListPolicyVersions", "DeletePolicyVersion", "SetDefaultPolicyVersion",
    "AttachPolicyToUser", "DetachPolicyFromUser", "ListEntitiesForPolicy",
)  # fmt: skip

EXAMPLE = json.dumps(
    {
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": ["acs:kms:*:*:key/<key-id>"]}
        ],
    },
    indent=2,
)

DONE = {
    "created": "The policy was created.",
    "policy-deleted": "The policy was deleted.",
    "version-create": "The version was created.",
    "version-default": "The default version was changed.",
    "version-delete": "The version was deleted.",
    "attach": "The policy was attached.",
    "detach": "The policy was detached.",
}


def policy_path(policy_type: PolicyType | str, name: str) -> str:
    return f"/ram/policies/{policy_type}/{name}"


# --- the list -------------------------------------------------------------------------------------


async def policies_list(ctx: Ctx) -> Response:
    wanted = ctx.query("type")
    policy_type = parse_policy_type(wanted) if wanted else None
    s, caller = ctx.services, ctx.caller

    def load() -> tuple[list[Any], frozenset[str]]:
        views, _ = s.ram_policies.list_policies(caller, policy_type, EVERYTHING)
        return views, s.access.on_policy(caller, ("CreatePolicy",))

    views, allowed = await ctx.run(load)
    context = ctx.page_context(
        "policies",
        policies=views,
        policy_type=wanted,
        allowed=allowed,
        done=DONE.get(ctx.query("done"), ""),
    )
    return ctx.render("ram_policies.html", context)


# --- create ---------------------------------------------------------------------------------------


async def create_form(ctx: Ctx, problems: dict[str, str] | None = None, status: int = 200) -> Response:
    allowed = await ctx.run(lambda: ctx.services.access.on_policy(ctx.caller, ("CreatePolicy",)))
    context = ctx.page_context(
        "policies",
        allowed=allowed,
        problems=problems or {},
        form=ctx.form,
        document=forms.text(ctx.form, "document") if ctx.form else EXAMPLE,
    )
    return ctx.render("ram_policy_create.html", context, status)


async def create(ctx: Ctx) -> Response:
    f = ctx.form
    name, description = forms.text(f, "policy_name").strip(), forms.text(f, "description").strip()
    document = forms.text(f, "document")
    try:
        await ctx.run(lambda: ctx.services.ram_policies.create_policy(ctx.caller, name, document, description))
    except errors.KmsError as exc:
        return await create_form(ctx, {POLICY_FIELDS.field_of(exc, "create"): field_message(exc)}, status_of(exc))
    log.info("console: %s created RAM policy %s", ctx.caller.access_key_id, name)
    return ctx.redirect(policy_path(PolicyType.CUSTOM, name), done="created")


# --- a policy's page ------------------------------------------------------------------------------


def _load(ctx: Ctx, policy_type: PolicyType, name: str) -> dict[str, Any]:
    s, caller = ctx.services, ctx.caller
    view = s.ram_policies.get_policy(caller, name, policy_type)
    allowed = s.access.on_policy(caller, POLICY_ACTIONS, name, policy_type)
    versions = s.ram_policies.list_versions(caller, name, policy_type)[1] if "ListPolicyVersions" in allowed else None
    entities = None
    if "ListEntitiesForPolicy" in allowed:
        entities = s.ram_policies.entities_for_policy(caller, name, policy_type)
    users: list[tuple[str, str]] = []
    if "AttachPolicyToUser" in allowed and "ListUsers" in s.access.on_user(caller, ("ListUsers",)):
        attached = {u.name for _, u in entities or ()}
        listed, _ = s.ram_users.list_users(caller, EVERYTHING)
        users = [(u.name, u.name) for u in listed if u.name not in attached]
    return {"view": view, "allowed": allowed, "versions": versions, "entities": entities, "user_choices": users}


async def detail(ctx: Ctx) -> Response:
    return await show(ctx)


async def show(ctx: Ctx, problems: dict[str, str] | None = None, status: int = 200) -> Response:
    policy_type, name = parse_policy_type(ctx.path("type")), ctx.path("name")
    data = await ctx.run(lambda: _load(ctx, policy_type, name))
    context = ctx.page_context(
        "policies",
        **data,
        custom=policy_type is PolicyType.CUSTOM,
        policy_url=ctx.url(policy_path(policy_type, name)),
        problems=problems or {},
        form=ctx.form,
        done=DONE.get(ctx.query("done"), "") if not problems else "",
    )
    return ctx.render("ram_policy.html", context, status)


async def action(ctx: Ctx) -> Response:
    policy_type, name, act = parse_policy_type(ctx.path("type")), ctx.path("name"), ctx.path("action")
    changes = _changes(ctx, policy_type, name)
    answer = await ctx.change(f"policy {name}", act, changes, lambda form, exc: _refused(ctx, form, exc))
    if answer is not None:
        return answer
    if act == "delete":
        return ctx.redirect("/ram/policies", done="policy-deleted")
    return ctx.redirect(policy_path(policy_type, name), done=act)


async def _refused(ctx: Ctx, act: str, exc: errors.KmsError | forms.FormError) -> Response:
    """The page again with the refusal next to the form that asked (a new version's document
    next to its editor); a policy that is not there (any more) has no page."""
    if isinstance(exc, forms.FormError):
        return await show(ctx, {act: str(exc)}, 400)
    if isinstance(exc, errors.EntityNotExist) and exc.entity == "Policy":
        raise exc
    where = POLICY_FIELDS.field_of(exc, act) if act == "version-create" else act
    return await show(ctx, {where: field_message(exc)}, status_of(exc))


def _changes(ctx: Ctx, policy_type: PolicyType, name: str) -> dict[str, Callable[[], object]]:
    policies, c, f = ctx.services.ram_policies, ctx.caller, ctx.form
    version_id, user = forms.text(f, "version_id"), forms.text(f, "user_name")

    def new_version() -> object:
        default = forms.text(f, "set_default") == "yes"
        return policies.create_version(c, name, forms.text(f, "document"), default, RotateStrategy.NONE)

    return {
        "version-create": new_version,
        "version-default": lambda: policies.set_default_version(c, name, version_id),
        "version-delete": lambda: policies.delete_version(c, name, version_id),
        "delete": lambda: policies.delete_policy(c, name, cascading=forms.text(f, "cascading") == "yes"),
        "attach": lambda: policies.attach(c, policy_type, name, user),
        "detach": lambda: policies.detach(c, policy_type, name, user),
    }
