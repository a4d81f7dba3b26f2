"""The web console: a Starlette app that ``asgi.py`` mounts at ``/console``.

Server-rendered pages (Jinja2), one stylesheet and one small script served from ``static/``:
no build step, no CDN, it works offline. Every page is behind the log-on; every form carries the
session's CSRF token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openkms.console.auth import SESSION_SECONDS, SessionManager
from openkms.console.forms import LEVEL_LABELS, USAGE_LABELS
from openkms.console.pages import (
    aliases,
    audit,
    create_key,
    importing,
    key_detail,
    keys,
    logon,
    ram_policies,
    ram_users,
    secret_detail,
    secrets,
)
from openkms.console.web import Console
from openkms.domain.ports import Clock
from openkms.service.container import Services

HERE = Path(__file__).parent

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


@dataclass(frozen=True)
class ConsoleConfig:
    """``session_key`` signs the session cookies: the composition root derives it from the root key."""

    session_key: bytes = field(repr=False)
    session_seconds: int = SESSION_SECONDS


class _Headers:
    """Security headers on every console response; pages (not static files) are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        static = scope["path"].startswith(str(scope.get("root_path", "")) + "/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _utc(ts: int | None) -> str:
    if ts is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _minute(ts: int | None) -> str:
    if ts is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def _datetime_field(ts: int) -> str:
    """A moment as a datetime-local field holds it (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M", time.gmtime(ts))


def _days(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    days = seconds / 86_400
    return f"{days:g} days" if days != 1 else "1 day"


def _event_time(text: str) -> str:
    """An event's time as people read it (the column says UTC): ``2026-12-01 08:30:00``."""
    return text.replace("T", " ").removesuffix("Z")


def _pretty_json(text: str) -> str:
    """A policy document as people read it: indented, when it is JSON at all."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["utc"] = _utc
    env.filters["days"] = _days
    env.filters["minute"] = _minute
    env.filters["datetime_field"] = _datetime_field
    env.filters["pretty_json"] = _pretty_json
    env.filters["event_time"] = _event_time
    env.globals["usage_labels"] = USAGE_LABELS
    env.globals["level_labels"] = LEVEL_LABELS
    return Jinja2Templates(env=env)


def _ram_routes(page: Callable[..., Callable[[Request], Awaitable[Response]]]) -> list[Route]:
    user, policy = "/{region}/ram/users/{name}", "/{region}/ram/policies/{type}/{name}"
    return [
        Route("/{region}/ram/users", page(ram_users.users_list, event="ram:ListUsers"), methods=["GET"]),
        Route("/{region}/ram/users", page(ram_users.create), methods=["POST"]),
        Route(user, page(ram_users.detail, event="ram:GetUser"), methods=["GET"]),
        Route(user + "/{action}", page(ram_users.action), methods=["POST"]),
        Route("/{region}/ram/policies", page(ram_policies.policies_list, event="ram:ListPolicies"), methods=["GET"]),
        Route("/{region}/ram/policies/create", page(ram_policies.create_form), methods=["GET"]),
        Route("/{region}/ram/policies/create", page(ram_policies.create), methods=["POST"]),
        Route(policy, page(ram_policies.detail, event="ram:GetPolicy"), methods=["GET"]),
        Route(policy + "/{action}", page(ram_policies.action), methods=["POST"]),
    ]


def _audit_routes(page: Callable[..., Callable[[Request], Awaitable[Response]]]) -> list[Route]:
    lookup = "actiontrail:LookupEvents"
    return [
        Route("/{region}/audit", page(audit.audit_page, event=lookup), methods=["GET"]),
        Route("/{region}/audit/ciphertext", page(audit.ciphertext, event=lookup), methods=["POST"]),
        Route("/{region}/audit/events/{event_id}", page(audit.event_detail, event=lookup), methods=["GET"]),
    ]


def _secret_routes(page: Callable[..., Callable[[Request], Awaitable[Response]]]) -> list[Route]:
    # A secret's name may hold "/": the name is the rest of the path, and a change's name the last
    # segment of a POST (its page is the only GET).
    one = "/{region}/secrets/{name:path}"
    return [
        Route("/{region}/secrets", page(secrets.secrets_list, event="kms:ListSecrets"), methods=["GET"]),
        Route("/{region}/secrets", page(secrets.create, event="kms:CreateSecret"), methods=["POST"]),
        Route(one, page(secret_detail.detail, event="kms:DescribeSecret"), methods=["GET"]),
        Route(one + "/reveal", page(secret_detail.reveal, event="kms:GetSecretValue"), methods=["POST"]),
        *(
            Route(f"{one}/{name}", page(secret_detail.change(name), event=event), methods=["POST"])
            for name, event in secret_detail.CHANGES.items()
        ),
        Route(one + "/{action}", page(secret_detail.action), methods=["POST"]),
    ]


def create_console(services: Services, config: ConsoleConfig, offload: bool, clock: Clock | None = None) -> ASGIApp:
    """``clock`` times the sessions; by default the services' clock (the runtime clock tests move)."""
    sessions = SessionManager(
        config.session_key,
        services.identity,
        services.console_sessions,
        clock or services.clock,
        config.session_seconds,
    )
    console = Console(services, sessions, templates(), offload)
    page, public = console.page, console.public
    key = "/{region}/keys/{key_id}"
    routes = [
        Route("/", public(logon.index), methods=["GET"]),
        Route("/login", public(logon.login), methods=["GET", "POST"]),
        Route("/logout", page(logon.logout, regional=False), methods=["POST"]),
        Route("/switch-region", page(logon.switch_region, regional=False), methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        Route("/{region}/keys", page(keys.keys_list, event="kms:ListKeys"), methods=["GET"]),
        Route("/{region}/keys/create", page(create_key.dialog), methods=["GET"]),
        Route("/{region}/keys/create", page(create_key.create), methods=["POST"]),
        Route(key, page(key_detail.detail, event="kms:DescribeKey"), methods=["GET"]),
        Route(
            key + "/versions/{version_id}/public-key.pem",
            page(key_detail.public_key, event="kms:GetPublicKey"),
            methods=["GET"],
        ),
        Route(key + "/import/{token_id}/{name}", page(importing.download), methods=["GET"]),
        Route(key + "/import-parameters", page(importing.parameters), methods=["POST"]),
        Route(key + "/import-material", page(importing.material), methods=["POST"]),
        Route(key + "/{action}", page(key_detail.action), methods=["POST"]),
        Route("/{region}/aliases", page(aliases.aliases_list, event="kms:ListAliases"), methods=["GET"]),
        Route("/{region}/aliases/delete", page(aliases.delete), methods=["POST"]),
        *_secret_routes(page),
        *_ram_routes(page),
        *_audit_routes(page),
    ]

    async def not_found(request: Request, _exc: Exception) -> Response:
        return console.not_found(request)

    async def failed(request: Request, _exc: Exception) -> Response:
        return console.internal_error(request)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 500: failed})
    return _Headers(app)
