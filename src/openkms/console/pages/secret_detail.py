"""A secret's page and what is done from it: its versions and their stages, a version's value
revealed on request, a new value, rotation now and its policy, deletion with a recovery window
(or without one) and restoring during the window.

A value is in no page until its Reveal button is pressed: the button posts (a CSRF-checked
request, recorded in the audit trail as GetSecretValue) and the value is only in that answer,
which like every console page is sent ``Cache-Control: no-store``. A value put or revealed is in
no log line and no error message, and a refused Put Value form comes back empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from openkms.console import forms
from openkms.console.errors import field_message, status_of
from openkms.console.pages.secrets import secret_path
from openkms.console.web import Ctx
from openkms.domain import errors, listing
from openkms.domain import secrets as s
from openkms.domain.secrets import Secret, SecretType
from openkms.service.secrets import SecretValue

DONE = {
    "created": "The secret was created.",
    "put": "The new value was stored.",
    "rotate": "The secret was rotated: the new version is ACSCurrent.",
    "rotation": "The rotation policy was updated.",
    "delete": "The secret is scheduled for deletion.",
    "restore": "The secret was restored.",
}

# Each change's path and the API action it is (the audit event's name, even when the change is
# refused before the service names it).
CHANGES = {
    "put": "kms:PutSecretValue",
    "rotate": "kms:RotateSecret",
    "rotation": "kms:UpdateSecretRotationPolicy",
    "delete": "kms:DeleteSecret",
    "restore": "kms:RestoreSecret",
}

# What a secret's page offers, each shown only when the authorizer would allow it.
SECRET_ACTIONS = (
    "GetSecretValue", "PutSecretValue", "ListSecretVersionIds", "RotateSecret", "UpdateSecretRotationPolicy",
    "DeleteSecret", "RestoreSecret",
)  # fmt: skip


async def detail(ctx: Ctx) -> Response:
    return await show(ctx)


def _load(ctx: Ctx, name: str, deprecated: bool) -> dict[str, Any]:
    """The secret and what the caller may see of it (None: not allowed): its versions, with the
    deprecated ones when asked; the actions it may take."""
    services, caller = ctx.services, ctx.caller
    secret = services.secrets.describe_secret(caller, name)
    allowed = services.access.on_secret(caller, secret, SECRET_ACTIONS)
    versions = None
    if "ListSecretVersionIds" in allowed:
        page = listing.Page(1, listing.MAX_PAGE_SIZE)
        versions = services.secrets.list_version_ids(caller, secret.name, deprecated, page)[1]
    return {"secret": secret, "allowed": allowed, "versions": versions}


async def show(
    ctx: Ctx, problems: dict[str, str] | None = None, status: int = 200, revealed: SecretValue | None = None
) -> Response:
    """The page, with ``problems`` (form -> message) when a change from it was refused, and
    ``revealed``: the value just asked for, shown in this answer only."""
    name, deprecated = ctx.path("name"), ctx.query("deprecated") == "1"
    data = await ctx.run(lambda: _load(ctx, name, deprecated))
    secret: Secret = data["secret"]
    url = ctx.url(secret_path(secret.name))
    context = ctx.page_context(
        "secrets",
        **data,
        secret_url=url,
        # Each form posts to the page as it is shown (with or without deprecated versions).
        post_url=lambda act: ctx.url(f"{secret_path(secret.name)}/{act}", deprecated="1" if deprecated else ""),
        key_url=ctx.url(f"/keys/{secret.encryption_key_id}"),
        deprecated=deprecated,
        deprecated_url=ctx.url(secret_path(secret.name), deprecated="" if deprecated else "1"),
        revealed=revealed,
        generic=secret.secret_type is SecretType.GENERIC,
        done=_done(ctx.query("done"), secret) if not (problems or revealed) else "",
        problems=problems or {},
        form=ctx.form,
        data_types=[t.value for t in s.DataType],
        min_window=s.MIN_RECOVERY_DAYS,
        max_window=s.MAX_RECOVERY_DAYS,
        default_window=s.DEFAULT_RECOVERY_DAYS,
    )
    return ctx.render("secret.html", context, status)


def _done(done: str, secret: Secret) -> str:
    """What the redirect after a change says; a rotation that failed says so on the page (the
    previous version stays current), not here."""
    if done == "rotate" and secret.rotation_error is not None:
        return ""
    return DONE.get(done, "")


async def refused(ctx: Ctx, form: str, exc: errors.KmsError | forms.FormError) -> Response:
    """The page again with the refusal next to ``form``; a secret that is not there (any more)
    has no page, so that is the error page."""
    if isinstance(exc, forms.FormError):
        return await show(ctx, {form: " ".join(exc.fields.values())}, 400)
    if isinstance(exc, errors.SecretNotFound):
        raise exc
    return await show(ctx, {form: field_message(exc)}, status_of(exc))


async def reveal(ctx: Ctx) -> Response:
    """GetSecretValue of the version posted, shown in this answer only."""
    name, version_id = ctx.path("name"), forms.text(ctx.form, "version_id")
    got: list[SecretValue] = []

    def read() -> None:
        got.append(ctx.services.secrets.get_secret_value(ctx.caller, name, version_id or None))

    answer = await ctx.change(f"secret {name}", "reveal", {"reveal": read}, lambda form, exc: refused(ctx, form, exc))
    return answer or await show(ctx, revealed=got[0])


def change(act: str) -> Callable[[Ctx], Awaitable[Response]]:
    """The page of one change (routed with its API action as the event's name)."""

    async def action(ctx: Ctx) -> Response:
        return await _act(ctx, act)

    return action


async def action(ctx: Ctx) -> Response:
    """A change named in the path: one of CHANGES has a route of its own, anything else is 404."""
    return await _act(ctx, ctx.path("action"))


async def _act(ctx: Ctx, act: str) -> Response:
    name = ctx.path("name")
    answer = await ctx.change(f"secret {name}", act, _changes(ctx, name), lambda form, exc: refused(ctx, form, exc))
    if answer is not None:
        return answer
    if act == "delete" and forms.text(ctx.form, "force") == "yes":
        return ctx.redirect("/secrets", done="deleted")  # gone at once: it has no page any more
    deprecated = "1" if ctx.query("deprecated") == "1" else ""
    return ctx.redirect(secret_path(name), done=act, deprecated=deprecated)


def _changes(ctx: Ctx, name: str) -> dict[str, Callable[[], object]]:
    secrets, c, f = ctx.services.secrets, ctx.caller, ctx.form

    def put() -> object:
        data_type = s.parse_data_type(forms.text(f, "data_type"))
        version_id = forms.text(f, "version_id").strip() or uuid.uuid4().hex
        stages = forms.parse_stages(forms.text(f, "stages"))
        return secrets.put_secret_value(c, name, version_id, forms.text(f, "secret_data"), data_type, stages)

    def rotation() -> object:
        interval = forms.text(f, "interval").strip()
        seconds = s.parse_rotation_interval(interval) if interval else None
        return secrets.update_rotation_policy(c, name, forms.text(f, "enabled") == "yes", seconds)

    def delete() -> object:
        if forms.text(f, "force") == "yes":
            return secrets.delete_secret(c, name, True, None)
        return secrets.delete_secret(c, name, False, forms.parse_recovery_window(forms.text(f, "window_days")))

    return {
        "put": put,
        "rotate": lambda: secrets.rotate_secret(c, name, uuid.uuid4().hex),
        "rotation": rotation,
        "delete": delete,
        "restore": lambda: secrets.restore_secret(c, name),
    }
