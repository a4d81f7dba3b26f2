"""What every console page stands on: the session check, CSRF tokens, the region in the URL,
rendering, and a service error turned into an error page.

A page is a function of a ``Ctx`` (one signed-in request) in ``console/pages/``; ``Console.page``
wraps it into a Starlette endpoint. Every page calls the same service methods as the RPC API,
with a ``Caller`` built from the signed-in AccessKey and the region in the URL.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio.to_thread
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from openkms.console.auth import COOKIE_NAME, Ended, Session, SessionManager, SignedIn
from openkms.console.errors import INTERNAL_FAILURE, message_of, status_of, title_of
from openkms.console.forms import FormError
from openkms.domain import errors
from openkms.domain.audit import EventType
from openkms.domain.identity import Caller
from openkms.domain.regions import Region
from openkms.service.audit import RequestFacts, noting
from openkms.service.container import Services

log = logging.getLogger("openkms.console")

T = TypeVar("T")

FORBIDDEN_CSRF = (
    "This form's security token is missing or does not match your session, so the request was refused. "
    "This happens when a page was opened before you logged on again, or when another site tries to submit "
    "a form on your behalf. Go back, reload the page and try again."
)


class Console:
    """The console's shared parts: the services, the session manager and the templates."""

    def __init__(self, services: Services, sessions: SessionManager, templates: Jinja2Templates, offload: bool) -> None:
        self.services = services
        self.sessions = sessions
        self._templates = templates
        self._offload = offload

    async def run(self, call: Callable[[], T]) -> T:
        """Service calls block (database, key generation): off the event loop unless they are quick."""
        if self._offload:
            return await anyio.to_thread.run_sync(call)
        return call()

    @staticmethod
    def base(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    def url(self, request: Request, path: str, **query: str) -> str:
        clean = {k: v for k, v in query.items() if v}
        return self.base(request) + path + (f"?{urlencode(clean)}" if clean else "")

    def set_cookie(self, request: Request, response: Response, session: Session | None) -> None:
        path = self.base(request) or "/"
        if session is None:
            response.delete_cookie(COOKIE_NAME, path=path, httponly=True, samesite="lax")
            return
        response.set_cookie(
            COOKIE_NAME,
            self.sessions.encode(session),
            max_age=max(0, session.expires_at - self.sessions.now()),
            path=path,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )

    def session_of(self, request: Request) -> Session | None:
        return self.sessions.decode(request.cookies.get(COOKIE_NAME))

    def csrf_ok(self, session: Session, form: FormData) -> bool:
        token = form.get("csrf_token")
        return isinstance(token, str) and self.sessions.csrf_ok(session, token)

    def render(self, request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return self._templates.TemplateResponse(request, name, context, status_code=status)

    def error_page(self, request: Request, status: int, title: str, message: str) -> Response:
        context: dict[str, Any] = {"base": self.base(request), "title": title, "message": message}
        return self.render(request, "error.html", context, status)

    def to_login(self, request: Request, ended: Ended | None = None, next_path: str = "") -> Response:
        query = {"ended": ended.value if ended else "", "next": next_path}
        response = RedirectResponse(self.url(request, "/login", **query), status_code=303)
        if ended is not None:
            self.set_cookie(request, response, None)
        return response

    def public(
        self, handler: Callable[[Console, Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint open before log-on (the log-on pages themselves)."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            return await handler(self, request)

        return endpoint

    def page(
        self, handler: Handler, *, regional: bool = True, event: str = ""
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a page: signed-in session still valid, region known, CSRF token on every POST; a
        service error the page lets through becomes the error page. ``event``: the API action a
        page that only reads is recorded as, ``kms:ListKeys`` (it may read several things)."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None or not session.signed_in:
                next_path = request.url.path if request.method == "GET" else ""
                return self.to_login(request, None, next_path)
            who = await self.run(lambda: self.sessions.resume(session))
            if isinstance(who, Ended):
                return self.to_login(request, who)
            form: FormData | None = None
            if request.method == "POST":
                form = await request.form()
                if not self.csrf_ok(session, form):
                    log.warning("console: refused a POST to %s without a valid CSRF token", request.url.path)
                    return self.error_page(request, 403, "Request refused", FORBIDDEN_CSRF)
            region_id = request.path_params.get("region") if regional else None
            try:
                region = self.services.regions.get(region_id or self.services.regions.default)
            except errors.InvalidRegion as exc:
                return self.error_page(request, 404, "Unknown region", exc.message)
            ctx = Ctx(self, request, session, who, caller_of(request, who, region.id), region, form or {})
            return await self._audited(ctx, handler, event)

        return endpoint

    async def _audited(self, ctx: Ctx, handler: Handler, event: str) -> Response:
        """Run the page as one audit event (ConsoleOperation), named after the API action it
        performed; fail-closed trails admit it first and must record it before it is answered."""
        facts = ctx.facts
        audit = self.services.audit
        try:
            await self.run(audit.admit)
            with noting() as facts.noted:
                try:
                    response = await handler(ctx)
                except errors.KmsError as exc:
                    response = ctx.failed(exc)
            facts.named_after_actions("Console" + handler.__name__.title().replace("_", ""), event)
            await self.run(lambda: audit.request(facts))
        except errors.AuditUnavailable as exc:
            return ctx.failed(exc)
        return response

    def not_found(self, request: Request) -> Response:
        return self.error_page(request, 404, "Not found", "There is no such page in the console.")

    def internal_error(self, request: Request) -> Response:
        return self.error_page(request, 500, "Internal failure", INTERNAL_FAILURE)


def source_of(request: Request) -> str:
    return request.client.host if request.client else ""


def caller_of(request: Request, who: SignedIn, region: str) -> Caller:
    """The caller as the API builds it: the AccessKey's account and RAM user, the region in the
    URL, and what policies may condition on (the source address, whether the request was HTTPS)."""
    secure = request.url.scheme == "https"
    return Caller(who.account_uid, region, who.access_key_id, who.user_name, source_of(request), secure)


@dataclass
class Ctx:
    """One signed-in request: who, where, and the posted form."""

    console: Console
    request: Request
    session: Session
    who: SignedIn
    caller: Caller
    region: Region
    form: Mapping[str, Any] = field(default_factory=dict)
    facts: RequestFacts = field(init=False)

    def __post_init__(self) -> None:
        request, caller = self.request, self.caller
        agent = request.headers.get("user-agent", "")
        self.facts = RequestFacts(
            EventType.CONSOLE_OPERATION, str(uuid.uuid4()).upper(), caller.source_ip, agent, region=caller.region
        )
        self.facts.caller = caller

    @property
    def services(self) -> Services:
        return self.console.services

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    async def run(self, call: Callable[[], T]) -> T:
        return await self.console.run(call)

    def url(self, path: str, **query: str) -> str:
        """A console URL in this request's region: ``path`` starts after the region."""
        return self.console.url(self.request, f"/{self.region.id}{path}", **query)

    def redirect(self, path: str, **query: str) -> Response:
        return RedirectResponse(self.url(path, **query), status_code=303)

    def render(self, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return self.console.render(self.request, name, context, status)

    def page_context(self, section: str, **extra: Any) -> dict[str, Any]:
        """What the layout shows around every page: who, which region, the region list, the section."""
        regions = self.services.regions.regions
        return {
            "base": self.console.base(self.request),
            "csrf_token": self.console.sessions.csrf_token(self.session),
            "access_key_id": self.who.access_key_id,
            "account_uid": self.who.account_uid,
            "user_name": self.who.user_name,
            "region": self.region,
            "mainland_regions": [r for r in regions if r.mainland_china],
            "other_regions": [r for r in regions if not r.mainland_china],
            "section": section,
            **extra,
        }

    def error_page(self, status: int, title: str, message: str) -> Response:
        return self.console.error_page(self.request, status, title, message)

    async def change(
        self,
        what: str,
        name: str,
        changes: Mapping[str, Callable[[], object]],
        refused: Callable[[str, errors.KmsError | FormError], Awaitable[Response]],
    ) -> Response | None:
        """Make the change ``name`` posted from a page about ``what``: None once it is made (the
        page redirects), else the answer — 404 for no such change, ``refused`` for a refusal."""
        change = changes.get(name)
        if change is None:
            return self.error_page(404, "Unknown action", f"There is no such {what.split(maxsplit=1)[0]} action.")
        try:
            await self.run(change)
        except (errors.KmsError, FormError) as exc:
            self.facts.error_code = type(exc).__name__ if isinstance(exc, errors.KmsError) else "InvalidParameter"
            return await refused(name, exc)
        log.info("console: %s %s on %s", self.caller.access_key_id, name, what)
        return None

    def failed(self, exc: errors.KmsError) -> Response:
        self.facts.error_code, self.facts.error_message = type(exc).__name__, exc.audit_message
        return self.error_page(status_of(exc), title_of(exc), message_of(exc))


Handler = Callable[[Ctx], Awaitable[Response]]
