"""The RPC endpoint: request in, one pipeline, Alibaba-shaped response out.

Pipeline: method -> parameters -> Action and Version -> signature -> region -> handler. Every
failure becomes an Alibaba error body through ``protocol/errors.py``; nothing else leaks.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from openkms import API_VERSION, access_log
from openkms.domain import errors
from openkms.domain.audit import EventType
from openkms.domain.faults import FaultError
from openkms.domain.identity import Caller
from openkms.domain.node_ports import NoMetrics, RequestMetrics
from openkms.domain.ports import Clock, NonceCache
from openkms.offload import in_greenlet, run_blocking
from openkms.protocol.actions.context import Ctx, Handler
from openkms.protocol.dispatch import ACTIONS, ACTIONTRAIL_ACTIONS, ACTIONTRAIL_VERSION, RAM_ACTIONS, RAM_VERSION
from openkms.protocol.errors import (
    OVERRIDES,
    ActionNotFound,
    BodyTooLarge,
    InvalidVersion,
    NonceUsed,
    UnsupportedHttpMethod,
    WireError,
    to_wire,
)
from openkms.protocol.params import Params
from openkms.protocol.render import render
from openkms.protocol.request import RpcRequest, build_request
from openkms.protocol.request_ids import new_request_id
from openkms.protocol.verify import Authenticator
from openkms.service.audit import RequestFacts, noting
from openkms.service.container import Services
from openkms.service.testing import DevControl

MAX_BODY_BYTES = 256 * 1024  # the default of [http] max_body_bytes
# The API version selects the table: a name may be in both (CreatePolicy is KMS's and RAM's).
_TABLES = {API_VERSION: ACTIONS, RAM_VERSION: RAM_ACTIONS, ACTIONTRAIL_VERSION: ACTIONTRAIL_ACTIONS}
_SERVICES = {API_VERSION: "kms", RAM_VERSION: "ram", ACTIONTRAIL_VERSION: "actiontrail"}  # the audit event's

log = logging.getLogger("openkms.protocol")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    content_type: bytes
    body: bytes = field(repr=False)  # may carry a plaintext or a data key
    request_id: str
    delay: float = 0.0  # seconds to wait before answering: an injected fault's
    retry_after: int | None = None  # a throttled request's Retry-After, in seconds


class InjectedFault(Exception):
    """A fault rule of the test control API fired: answered as the error it names."""

    def __init__(self, error: FaultError, delay: float) -> None:
        super().__init__(error.code)
        self.delay = delay
        self.wire = WireError(error.status, error.code, error.message, None, error.message)


def inject(control: DevControl | None, action: str, caller: Caller) -> float:
    """The delay a fault rule of the test control API adds (0 for most requests); raises
    ``InjectedFault`` for a rule that names an error. Both protocols (RPC, gateway) ask it."""
    if control is None:
        return 0.0
    rule = control.faults.pick(action, caller.account_uid)
    if rule is None:
        return 0.0
    if rule.error is not None:
        raise InjectedFault(rule.error, rule.delay)
    return rule.delay


def report(metrics: RequestMetrics, control: DevControl | None, clock: Clock, facts: RequestFacts, status: int,
           code: str, elapsed: float) -> None:  # fmt: skip
    """An answered request told to the metrics and, when it is on, the test control API's request
    log. Both protocols (RPC, gateway) report through here."""
    metrics.finished(facts.event_name or "?", "OK" if code == "-" else code, elapsed)
    if control is not None:
        control.requests.record(
            clock.now(), facts.request_id, facts.event_name or "?", facts.access_key_id,
            facts.parameters, status, code, elapsed * 1000,
        )  # fmt: skip


class RpcHandler:
    def __init__(
        self,
        services: Services,
        nonces: NonceCache,
        auth_clock: Clock,
        max_body_bytes: int = MAX_BODY_BYTES,
        control: DevControl | None = None,
        metrics: RequestMetrics | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self._metrics: RequestMetrics = metrics or NoMetrics()
        self._quotas = services.quotas
        self._services = services
        self._auth = Authenticator(services.identity, nonces)
        self._auth_clock = auth_clock
        self._audit = services.audit
        self._control = control  # the test control API's faults and request log, when it is on

    def handle(
        self,
        method: str,
        path: str,
        raw_query: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        client: str = "",
        secure: bool = False,
    ) -> Response:
        started = time.perf_counter()
        self._metrics.started()
        # Every request is an audit event, refused ones included: its facts are gathered as it goes.
        facts = RequestFacts(EventType.API_CALL, new_request_id(), client, _header(raw_headers, b"user-agent"))
        # Known before anything can fail, so that every error body echoes it as HostId.
        host = _header(raw_headers, b"host")
        xml_root: str | None = None
        overrides = None
        delay = 0.0
        retry_after: int | None = None
        try:
            if method not in ("GET", "POST"):
                raise UnsupportedHttpMethod()
            if body is None:
                raise BodyTooLarge(self.max_body_bytes)
            req = build_request(method, path, raw_query, raw_headers, body)
            if req.params.get("Format", "").upper() == "XML":
                xml_root = "Error"
            action = req.params.get("Action") or req.header("x-acs-action") or ""
            version = req.params.get("Version") or req.header("x-acs-version") or ""
            overrides = OVERRIDES.get(version)
            _describe(facts, req, action, version)
            handler = _handler_for(action, version)
            caller = self._authenticate(req, host, client, secure)
            facts.caller, facts.region = caller, caller.region
            # Below the signature: only a known account spends its quota (domain/quotas.py).
            self._quotas.take(caller.account_uid, caller.region, _SERVICES[version], action)
            self._audit.admit()  # fail-closed: refused here, before the action does anything
            delay = self._inject(action, caller)
            with noting() as facts.noted:
                result = handler(Ctx(caller, self._services, Params(req.params)))
            result["RequestId"] = facts.request_id
            facts.response = result
            content_type, payload = render(result, f"{action}Response" if xml_root else None)
            status, code = 200, "-"
        except errors.KmsError as exc:
            wire = to_wire(exc, overrides)
            retry_after = wire.retry_after
            status, code, content_type, payload = self._failed(facts, wire, host, xml_root, exc)
        except InjectedFault as fault:
            delay, (status, code, content_type, payload) = fault.delay, self._failed(facts, fault.wire, host, xml_root)
        except Exception:
            log.exception("request %s failed with an unexpected error", facts.request_id)
            status, code, content_type, payload = self._failed(facts, to_wire(RuntimeError()), host, xml_root)
        try:
            self._audit.request(facts)
        except errors.AuditUnavailable as exc:  # fail-closed: an answer whose event is lost is not given
            status, code, content_type, payload = self._error(to_wire(exc), facts.request_id, host, xml_root)
        self._log(method, facts, status, code, started)
        return Response(status, content_type, payload, facts.request_id, delay, retry_after)

    def _count_refusal(self, exc: errors.KmsError) -> None:
        """The refusals an operator watches for beside the codes: quotas spent, replays."""
        if isinstance(exc, errors.Throttled):
            self._metrics.throttled(exc.quota_class)
        elif isinstance(exc, NonceUsed):
            self._metrics.nonce_refused()

    def _authenticate(self, req: RpcRequest, host: str, client: str, secure: bool) -> Caller:
        cred = self._auth.authenticate(req, self._auth_clock.now())
        # Only V3 signs the Host header: under V1 an unsigned header must not choose the region.
        signed_host = host if (req.header("authorization") or "").startswith("ACS3-") else None
        region = self._services.regions.resolve(req.params.get("RegionId") or None, signed_host).id
        return Caller(cred.account_uid, region, cred.access_key_id, cred.user_name, client, secure)

    def _inject(self, action: str, caller: Caller) -> float:
        return inject(self._control, action, caller)

    def _failed(
        self, facts: RequestFacts, wire: WireError, host: str, xml_root: str | None, exc: Exception | None = None
    ) -> tuple[int, str, bytes, bytes]:
        if wire.status >= 500 and exc is not None:
            log.error("request %s failed: %s", facts.request_id, type(exc).__name__)
        if isinstance(exc, errors.KmsError):
            self._count_refusal(exc)
        facts.error_code, facts.error_message = wire.code, wire.audit_message
        return self._error(wire, facts.request_id, host, xml_root)

    def _log(self, method: str, facts: RequestFacts, status: int, code: str, started: float) -> None:
        caller = facts.caller
        elapsed = time.perf_counter() - started
        report(self._metrics, self._control, self._services.clock, facts, status, code, elapsed)
        if access_log.on():
            ak, region = (caller.access_key_id, facts.region) if caller else ("-", "-")
            name = facts.event_name or "?"
            access_log.write(
                f"{facts.request_id} {method} {name} {status} {code} {elapsed * 1000:.1f}ms ak={ak} region={region}"
            )

    @staticmethod
    def _error(wire: WireError, request_id: str, host: str, xml_root: str | None) -> tuple[int, str, bytes, bytes]:
        body = {
            "RequestId": request_id,
            "HostId": host,
            "Code": wire.code,
            "Message": wire.message,
            "Recommend": f"https://error-center.aliyun.com/status/search?Keyword={wire.code}&source=PopGw",
            "HttpStatus": wire.status,
        }
        if wire.access_denied is not None:
            body["AccessDeniedDetail"] = wire.access_denied
        content_type, payload = render(body, xml_root)
        return wire.status, wire.code, content_type, payload


def _handler_for(action: str, version: str) -> Handler:
    if not action:
        raise errors.MissingParameter("Action")
    if not version:
        raise errors.MissingParameter("Version")
    table = _TABLES.get(version)
    if table is None:
        raise InvalidVersion(version)
    handler = table.get(action)
    if handler is None:
        raise ActionNotFound(action)
    return handler


def _header(raw_headers: list[tuple[bytes, bytes]], wanted: bytes) -> str:
    for name, value in raw_headers:
        if name.lower() == wanted:
            return value.decode("latin-1")
    return ""


_CREDENTIAL = re.compile(r"Credential=([^,\s]{1,128})")


def _describe(facts: RequestFacts, req: RpcRequest, action: str, version: str) -> None:
    """What the audit event says of a request before its signature is checked: its action (the
    caller's text only once it names an action), the AccessKey it claims, its parameters."""
    table = _TABLES.get(version)
    if table is not None and action in table:
        facts.event_name = action
        facts.service = _SERVICES[version]
    facts.api_version = version if version in _TABLES else ""
    facts.region = req.params.get("RegionId", "")[:64]
    match = _CREDENTIAL.search(req.header("authorization") or "")
    facts.access_key_id = req.params.get("AccessKeyId") or (match.group(1) if match else "")
    facts.parameters = req.params


# Actions that may wait on another server (a rotator's database): never run on the event loop,
# even where every other handler does. A false match (the word in a value) only costs a thread hop.
_WAITING_ACTIONS = (b"RotateSecret",)


def _may_wait(body: bytes | None, scope: Scope) -> bool:
    # Asked of every request on the event loop: plain substring tests first, no lists made.
    for action in _WAITING_ACTIONS:
        if (body and action in body) or action in scope["query_string"]:
            return True
        for name, value in scope["headers"]:
            if name == b"x-acs-action" and action in value:
                return True
    return False


class RpcApp:
    """The ASGI callable for ``/``. ``offload`` runs the (blocking) handler in a worker thread;
    ``greenlet`` runs it on the event loop in a greenlet instead, where its calls to the database
    wait without blocking the loop (openkms/offload.py: PostgreSQL's)."""

    def __init__(self, handler: RpcHandler, offload: bool = False, greenlet: bool = False) -> None:
        self._handler = handler
        self._offload = offload and not greenlet
        self._greenlet = greenlet
        self._max_body = handler.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body: bytes | None = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone, or the server gave up on the request (a timeout)
            body += message.get("body", b"")
            if len(body) > self._max_body:
                # Answered at once: what is left of the body is not read (openkms serve closes the
                # connection if more of it arrives, cli/http_limits.py).
                body = None
                break
            more = message.get("more_body", False)
        peer = scope.get("client")
        client = peer[0] if peer else ""
        secure = scope.get("scheme") == "https"
        args = (scope["method"], scope["path"], scope["query_string"], scope["headers"], body, client, secure)
        if self._offload or _may_wait(body, scope):
            resp = await run_blocking(self._handler.handle, *args)
        elif self._greenlet:
            resp = await in_greenlet(self._handler.handle, *args)
        else:
            resp = self._handler.handle(*args)
        if resp.delay:
            await anyio.sleep(resp.delay)
        headers = [
            (b"content-type", resp.content_type),
            (b"content-length", str(len(resp.body)).encode()),
            (b"x-acs-request-id", resp.request_id.encode()),
        ]
        if resp.retry_after is not None:
            headers.append((b"retry-after", str(resp.retry_after).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": resp.body})
