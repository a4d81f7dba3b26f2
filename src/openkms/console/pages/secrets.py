"""The Secrets page: the region's secrets a page at a time, filtered by name, type and state
(``SecretService.list_secrets`` does all three), with the Create Secret form under the list.

The value typed into Create Secret goes to ``CreateSecret`` and nowhere else: a refused form comes
back without it (the password field is never filled in by the server), and no log line names it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from starlette.responses import Response

from openkms.console import forms
from openkms.console.errors import CREATE_SECRET_FIELDS, field_message, status_of
from openkms.console.web import Ctx
from openkms.domain import errors, listing
from openkms.domain import secrets as s
from openkms.domain.identity import Caller
from openkms.domain.keys import Key
from openkms.domain.secrets import Secret, SecretType
from openkms.domain.specs import KeyUsage
from openkms.service.container import Services
from openkms.service.secrets import CreateSecretRequest

log = logging.getLogger("openkms.console")

SECRETS_PER_PAGE = 10
# The State filter: the API has none (a secret is live or waits for its purge), the console asks
# the service for either.
STATES = {"active": False, "pending": True}
STATE_LABELS = {"": "All states", "active": "Active", "pending": "Pending deletion"}
SERVICE_KEY = ""  # the Encryption Key choice that sends no EncryptionKeyId
SERVICE_KEY_LABEL = "Service-managed key (default)"
DONE = {"deleted": "The secret was deleted."}


def secret_path(name: str) -> str:
    """A secret's page; a name may hold / + = @, which stay as they are in a URL path."""
    return "/secrets/" + quote(name, safe="/+=@")


async def secrets_list(ctx: Ctx) -> Response:
    return await show(ctx)


@dataclass(frozen=True)
class KeyChoice:
    key_id: str
    label: str


def key_choices(services: Services, caller: Caller) -> list[KeyChoice]:
    """The keys a secret may be encrypted under: the caller's enabled symmetric Encrypt/Decrypt
    keys it may see, by id and alias; the account's service-managed key is the default choice, not
    one of these (chosen by id, the secret would no longer be on the service's key)."""
    enabled = [listing.Filter("KeyState", ("Enabled",))]
    found: list[Key] = []
    number, total = 1, 1
    while len(found) < total:
        rows, total = services.keys.list_keys(
            caller, listing.Page(number, listing.MAX_PAGE_SIZE), enabled, describable=True
        )
        if not rows:
            break
        found.extend(rows)
        number += 1
    usable = [
        k for k in found
        if k.spec_info.symmetric and k.usage is KeyUsage.ENCRYPT_DECRYPT and k.creator != s.SERVICE_KEY_CREATOR
    ]  # fmt: skip
    allowed = services.access.on_keys(caller, ("ListAliases",))
    names = services.aliases.names_by_key(caller, [k.id for k in usable]) if "ListAliases" in allowed else {}
    return [KeyChoice(k.id, " · ".join([k.id, *names.get(k.id, [])[:1]])) for k in usable]


async def show(ctx: Ctx, problems: Mapping[str, str] | None = None, status: int = 200) -> Response:
    """The page; ``problems`` (field -> message) when Create Secret was refused."""
    search, kind, state = ctx.query("q").strip(), ctx.query("type"), ctx.query("state")
    wanted = forms.page_number(ctx.query("page", "1"))
    filters = []
    if search:
        filters.append(listing.Filter("SecretName", (search,)))
    if kind in {t.value for t in SecretType}:
        filters.append(listing.Filter("SecretType", (kind,)))
    pending = STATES.get(state)
    services, caller = ctx.services, ctx.caller

    def listed(number: int) -> tuple[list[Secret], int]:
        return services.secrets.list_secrets(caller, listing.Page(number, SECRETS_PER_PAGE), filters, pending)

    def load() -> tuple[int, list[Secret], int, frozenset[str], list[KeyChoice]]:
        number = wanted
        rows, total = listed(number)
        if not rows and number > _pages(total):  # a link past the end shows the last page
            number = _pages(total)
            rows, total = listed(number)
        allowed = services.access.on_secrets(caller, ("CreateSecret",))
        choices = key_choices(services, caller) if "CreateSecret" in allowed else []
        return number, rows, total, allowed, choices

    number, rows, total, allowed, choices = await ctx.run(load)
    query = {"q": search, "type": kind, "state": state}
    context = ctx.page_context(
        "secrets",
        secrets=rows,
        total=total,
        page=number,
        pages=_pages(total),
        page_url=lambda n: ctx.url("/secrets", **query, page=str(n) if n > 1 else ""),
        secret_url=lambda name: ctx.url(secret_path(name)),
        search=search,
        kind=kind,
        state=state,
        types=[t.value for t in SecretType],
        states=STATE_LABELS,
        filtered=bool(search or kind or state),
        allowed=allowed,
        key_choices=[KeyChoice(SERVICE_KEY, SERVICE_KEY_LABEL), *choices],
        data_types=[t.value for t in s.DataType],
        problems=problems or {},
        form=ctx.form,
        done=DONE.get(ctx.query("done"), "") if not problems else "",
        max_name=s.MAX_NAME_LENGTH,
        max_version_id=s.MAX_VERSION_ID_LENGTH,
        max_description=s.MAX_DESCRIPTION_LENGTH,
    )
    return ctx.render("secrets.html", context, status)


def _pages(total: int) -> int:
    return max(1, -(-total // SECRETS_PER_PAGE))


def create_request(form: Mapping[str, object]) -> CreateSecretRequest:
    """CreateSecret's request from the form: an empty Version ID is a new random one (the API
    needs one; the console makes it as the SDKs' helpers do), an empty tag key no tag."""
    text = forms.text
    tag_key = text(form, "tag_key")
    return CreateSecretRequest(
        name=text(form, "secret_name").strip(),
        version_id=text(form, "version_id").strip() or uuid.uuid4().hex,
        data=text(form, "secret_data"),
        data_type=s.parse_data_type(text(form, "data_type")),
        key_ref=text(form, "encryption_key").strip() or None,
        description=text(form, "description"),
        tags=[forms.parse_tag(tag_key, text(form, "tag_value"))] if tag_key.strip() else [],
    )


async def create(ctx: Ctx) -> Response:
    try:
        req = create_request(ctx.form)
        secret, _ = await ctx.run(lambda: ctx.services.secrets.create_secret(ctx.caller, req))
    except errors.KmsError as exc:
        ctx.facts.error_code = type(exc).__name__
        field = CREATE_SECRET_FIELDS.field_of(exc, "create")
        return await show(ctx, {field: field_message(exc)}, status_of(exc))
    # The name only: the value is in no log line.
    log.info("console: %s created secret %s in %s", ctx.caller.access_key_id, secret.name, ctx.region.id)
    return ctx.redirect(secret_path(secret.name), done="created")
