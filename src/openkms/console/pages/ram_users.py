"""RAM users: the list with its create form, a user's page, and the changes made from it — delete
the user; its AccessKeys (create, with the secret shown once on the page that answers the
creation; enable, disable, delete); the policies attached to it (attach, detach).

Every change is the RAM API's own use case (service/ram_users.py, ram_policies.py), which asks
the authorizer; the forms and buttons shown are those ``AccessService`` says the caller may use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from openkms.console import forms
from openkms.console.errors import FormFields, field_message, status_of
from openkms.console.web import Ctx
from openkms.domain import errors
from openkms.domain.ram.identities import PolicyType, parse_policy_type
from openkms.service.identity import IssuedKey
from openkms.service.ram_users import Page, UserFields

log = logging.getLogger("openkms.console")

USERS_PER_PAGE = 50
EVERYTHING = Page(max_items=10_000)  # a select's choices: every policy the account has

USER_FIELDS = FormFields(
    {
        "UserName": "user_name",
        "DisplayName": "display_name",
        "Email": "email",
        "MobilePhone": "mobile_phone",
        "Comments": "comments",
    }
)
USER_ACTIONS = (
    "DeleteUser", "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey",
    "AttachPolicyToUser", "DetachPolicyFromUser", "ListPoliciesForUser",
)  # fmt: skip

DONE = {
    "created": "The user was created.",
    "user-deleted": "The user was deleted.",
    "key-enable": "The AccessKey is enabled.",
    "key-disable": "The AccessKey is disabled.",
    "key-delete": "The AccessKey was deleted.",
    "attach": "The policy was attached.",
    "detach": "The policy was detached.",
}


def user_path(name: str) -> str:
    return f"/ram/users/{name}"


# --- the list -------------------------------------------------------------------------------------


async def users_list(ctx: Ctx) -> Response:
    return await show_list(ctx)


async def show_list(ctx: Ctx, problems: dict[str, str] | None = None, status: int = 200) -> Response:
    marker = ctx.query("marker")
    s, caller = ctx.services, ctx.caller

    def load() -> tuple[list[Any], str | None, frozenset[str]]:
        users, next_marker = s.ram_users.list_users(caller, Page(marker or None, USERS_PER_PAGE))
        return users, next_marker, s.access.on_user(caller, ("CreateUser",))

    users, next_marker, allowed = await ctx.run(load)
    context = ctx.page_context(
        "users",
        users=users,
        next_url=ctx.url("/ram/users", marker=next_marker) if next_marker else "",
        first_url=ctx.url("/ram/users") if marker else "",
        allowed=allowed,
        problems=problems or {},
        form=ctx.form,
        done=DONE.get(ctx.query("done"), "") if not problems else "",
    )
    return ctx.render("ram_users.html", context, status)


async def create(ctx: Ctx) -> Response:
    f = ctx.form
    name = forms.text(f, "user_name").strip()
    fields = UserFields(
        *(forms.text(f, n).strip() or None for n in ("display_name", "email", "mobile_phone", "comments"))
    )
    try:
        await ctx.run(lambda: ctx.services.ram_users.create_user(ctx.caller, name, fields))
    except errors.KmsError as exc:
        return await show_list(ctx, {USER_FIELDS.field_of(exc, "create"): field_message(exc)}, status_of(exc))
    log.info("console: %s created RAM user %s", ctx.caller.access_key_id, name)
    return ctx.redirect(user_path(name), done="created")


# --- a user's page --------------------------------------------------------------------------------


def _load(ctx: Ctx, name: str) -> dict[str, Any]:
    s, caller = ctx.services, ctx.caller
    user = s.ram_users.get_user(caller, name)
    allowed = s.access.on_user(caller, USER_ACTIONS, name)
    attached = s.ram_policies.policies_for_user(caller, name) if "ListPoliciesForUser" in allowed else None
    choices: list[tuple[str, str]] = []
    if "AttachPolicyToUser" in allowed and "ListPolicies" in s.access.on_policy(caller, ("ListPolicies",)):
        taken = {(a.policy_type, a.policy_name) for a, _ in attached or ()}
        views, _ = s.ram_policies.list_policies(caller, None, EVERYTHING)
        choices = [
            (f"{v.policy.type}:{v.policy.name}", f"{v.policy.name} ({v.policy.type})")
            for v in views
            if (v.policy.type, v.policy.name) not in taken
        ]
    return {
        "user": user,
        "allowed": allowed,
        "access_keys": s.ram_users.list_access_keys(caller, name) if "ListAccessKeys" in allowed else None,
        "attached": attached,
        "policy_choices": choices,
    }


async def detail(ctx: Ctx) -> Response:
    return await show(ctx)


async def show(
    ctx: Ctx, problems: dict[str, str] | None = None, status: int = 200, issued: IssuedKey | None = None
) -> Response:
    """The page; ``issued``: a pair just created, whose secret this answer shows once."""
    name = ctx.path("name")
    data = await ctx.run(lambda: _load(ctx, name))
    context = ctx.page_context(
        "users",
        **data,
        user_url=ctx.url(user_path(name)),
        issued=issued,
        problems=problems or {},
        done=DONE.get(ctx.query("done"), "") if not (problems or issued) else "",
    )
    return ctx.render("ram_user.html", context, status)


async def action(ctx: Ctx) -> Response:
    name, act = ctx.path("name"), ctx.path("action")
    if act == "key-create":
        return await _create_key(ctx, name)
    answer = await ctx.change(f"user {name}", act, _changes(ctx, name), lambda form, exc: _refused(ctx, form, exc))
    if answer is not None:
        return answer
    if act == "delete":
        return ctx.redirect("/ram/users", done="user-deleted")
    return ctx.redirect(user_path(name), done=act)


async def _refused(ctx: Ctx, act: str, exc: errors.KmsError | forms.FormError) -> Response:
    """The page again with the refusal next to the form that asked; a user that is not there
    (any more) has no page, so that is the error page."""
    if isinstance(exc, errors.EntityNotExist) and exc.entity == "User":
        raise exc
    if isinstance(exc, forms.FormError):
        return await show(ctx, {act: str(exc)}, 400)
    return await show(ctx, {act: field_message(exc)}, status_of(exc))


async def _create_key(ctx: Ctx, name: str) -> Response:
    try:
        issued = await ctx.run(lambda: ctx.services.ram_users.create_access_key(ctx.caller, name))
    except errors.KmsError as exc:
        return await _refused(ctx, "key-create", exc)
    # The id only: the secret is on this one page and nowhere else, never in a log.
    log.info("console: %s created AccessKey %s for RAM user %s", ctx.caller.access_key_id, issued.access_key.id, name)
    return await show(ctx, issued=issued)


def _policy_choice(value: str) -> tuple[PolicyType, str]:
    kind, _, policy = value.partition(":")
    if not policy:
        raise errors.MissingParameter("PolicyName")
    return parse_policy_type(kind), policy


def _changes(ctx: Ctx, name: str) -> dict[str, Callable[[], object]]:
    users, policies, c, f = ctx.services.ram_users, ctx.services.ram_policies, ctx.caller, ctx.form
    key_id = forms.text(f, "access_key_id")

    def attach() -> None:
        policies.attach(c, *_policy_choice(forms.text(f, "policy")), name)

    def detach() -> None:
        policies.detach(c, *_policy_choice(forms.text(f, "policy")), name)

    return {
        "delete": lambda: users.delete_user(c, name),
        "key-enable": lambda: users.update_access_key(c, key_id, True, name),
        "key-disable": lambda: users.update_access_key(c, key_id, False, name),
        "key-delete": lambda: users.delete_access_key(c, key_id, name),
        "attach": attach,
        "detach": detach,
    }
