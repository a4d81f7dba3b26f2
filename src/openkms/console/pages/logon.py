"""Log on, log off, and the region switcher in the page header."""

from __future__ import annotations

import logging
import uuid

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from openkms.console import forms
from openkms.console.auth import ENDED_MESSAGES, Ended, LogOnResult, Session, SignedIn
from openkms.console.errors import message_of, title_of
from openkms.console.web import FORBIDDEN_CSRF, Console, Ctx, source_of
from openkms.domain import errors
from openkms.domain.audit import EventType
from openkms.domain.identity import Caller
from openkms.domain.logon import fingerprint
from openkms.service.audit import RequestFacts

log = logging.getLogger("openkms.console")

# The layout's sections and their paths (the region switcher keeps the section).
SECTIONS = {
    "keys": "keys",
    "aliases": "aliases",
    "secrets": "secrets",
    "users": "ram/users",
    "policies": "ram/policies",
    "audit": "audit",
}

FORBIDDEN_NO_COOKIE = (
    "Your browser did not send the console's session cookie, so the request was refused. "
    "Allow cookies for this site, reload the log-on page and try again."
)


def _home(console: Console, request: Request) -> str:
    return console.url(request, f"/{console.services.regions.default}/keys")


def _safe_next(console: Console, request: Request, next_path: str) -> str:
    base = console.base(request)
    if next_path.startswith(base + "/") and not next_path.startswith("//") and "\\" not in next_path:
        return next_path
    return _home(console, request)


async def index(console: Console, request: Request) -> Response:
    session = console.session_of(request)
    if session is not None and session.signed_in and not console.sessions.expired(session):
        return RedirectResponse(_home(console, request), status_code=303)
    return RedirectResponse(console.url(request, "/login"), status_code=303)


def _login_form(
    console: Console, request: Request, session: Session, status: int = 200, error: str = "", access_key_id: str = ""
) -> Response:
    ended = request.query_params.get("ended", "")
    notice = ENDED_MESSAGES.get(Ended(ended), "") if ended in Ended.__members__.values() else ""
    context = {
        "base": console.base(request),
        "csrf_token": console.sessions.csrf_token(session),
        "error": error,
        "notice": notice,
        "next": request.query_params.get("next", ""),
        "access_key_id": "",
        "typed_access_key_id": access_key_id,
    }
    response = console.render(request, "login.html", context, status)
    console.set_cookie(request, response, session)
    return response


async def login(console: Console, request: Request) -> Response:
    sessions = console.sessions
    session = console.session_of(request)
    if request.method == "GET":
        if session is not None and not sessions.expired(session):
            if session.signed_in and isinstance(await console.run(lambda: sessions.resume(session)), SignedIn):
                return RedirectResponse(_safe_next(console, request, request.query_params.get("next", "")), 303)
            if not session.signed_in:
                return _login_form(console, request, session)
        return _login_form(console, request, sessions.anonymous())

    form = await request.form()
    if session is None:
        return console.error_page(request, 403, "Request refused", FORBIDDEN_NO_COOKIE)
    if not console.csrf_ok(session, form):
        return console.error_page(request, 403, "Request refused", FORBIDDEN_CSRF)
    access_key_id = forms.text(form, "access_key_id")
    if sessions.expired(session):
        expired = "The log-on form had expired. Try again."
        return _login_form(console, request, sessions.anonymous(), 400, expired, access_key_id)
    secret, source = forms.text(form, "access_key_secret"), source_of(request)
    try:
        await console.run(console.services.audit.admit)
    except errors.AuditUnavailable as exc:
        return console.error_page(request, 503, title_of(exc), message_of(exc))
    result = await console.run(lambda: sessions.log_on(access_key_id, secret, source))
    await _record_signin(console, request, result, access_key_id.strip())
    if result.session is None:
        # An id that is no AccessKey's may be a secret typed into the wrong field: only its fingerprint.
        who = access_key_id.strip() if result.known_id else f"(unknown, sha256 {fingerprint(access_key_id.strip())})"
        status = 429 if result.retry_after else 401
        log.info("console: refused log-on for AccessKey %s from %s (%d)", who, source or "-", status)
        response = _login_form(console, request, session, status, result.error, access_key_id)
        if result.retry_after:
            response.headers["Retry-After"] = str(result.retry_after)
        return response
    log.info("console: %s logged on from %s", access_key_id.strip(), source or "-")
    response = RedirectResponse(_safe_next(console, request, forms.text(form, "next")), status_code=303)
    console.set_cookie(request, response, result.session)
    return response


async def _record_signin(console: Console, request: Request, result: LogOnResult, access_key_id: str) -> None:
    """A log-on, allowed or refused, is an event (ActionTrail's ConsoleSignin). A refused one names
    the AccessKey only if it is one: the field may hold a secret typed into the wrong box."""
    facts = RequestFacts(
        EventType.CONSOLE_SIGNIN,
        str(uuid.uuid4()).upper(),
        source_of(request),
        request.headers.get("user-agent", ""),
        event_name="ConsoleSignin",
        access_key_id=access_key_id if result.known_id else "",
    )
    if result.session is None:
        facts.error_code = "TooManyLogOnFailures" if result.retry_after else "InvalidAccessKeyIdOrSecret"
        if result.known_id:  # someone tried this account's AccessKey: the account may see it
            facts.recipient_account_id = await console.run(lambda: _account_of(console, access_key_id))
    else:
        session = result.session
        who = await console.run(lambda: console.sessions.resume(session))
        if isinstance(who, SignedIn):
            facts.caller = Caller(who.account_uid, "", who.access_key_id, who.user_name, source_of(request))
    await console.run(lambda: console.services.audit.request(facts))


def _account_of(console: Console, access_key_id: str) -> str:
    try:
        return console.services.identity.credential(access_key_id).account_uid
    except errors.KmsError:  # deleted meanwhile
        return ""


async def logout(ctx: Ctx) -> Response:
    url = ctx.console.url(ctx.request, "/login", ended=Ended.SIGNED_OUT.value)
    await ctx.run(lambda: ctx.console.sessions.log_off(ctx.session))
    response = RedirectResponse(url, status_code=303)
    ctx.console.set_cookie(ctx.request, response, ctx.console.sessions.anonymous())
    return response


async def switch_region(ctx: Ctx) -> Response:
    wanted = ctx.query("region")
    section = ctx.query("to", "keys")
    try:
        region = ctx.services.regions.get(wanted)
    except errors.InvalidRegion as exc:
        return ctx.error_page(404, "Unknown region", exc.message)
    path = SECTIONS.get(section, "keys")
    return RedirectResponse(ctx.console.url(ctx.request, f"/{region.id}/{path}"), status_code=303)
