"""The test control API under ``/_openkms/``: the server's clock, fault rules, reset, recent requests.

Not an Alibaba path, and mounted only in dev mode or with ``[testing] control_api``. A request is
signed like an SDK's V3 request (ACS3-HMAC-SHA256 over the method, the path, the query, the signed
headers and the body's hash; ``x-acs-action: OpenKmsControl``, ``x-acs-version: 1``), checked by
the protocol's own ``Authenticator`` against real time, and only the administrator account's own
AccessKey passes. V1 is refused: it signs parameters, not the path, so it would not bind the
endpoint. Bodies and answers are JSON; errors have Alibaba's body. Every call is an audit event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from openkms.domain import errors
from openkms.domain.audit import EventType
from openkms.domain.faults import BadRule
from openkms.domain.identity import Caller
from openkms.domain.ports import Clock, NonceCache
from openkms.offload import run_blocking
from openkms.protocol.app import Receive, Scope, Send
from openkms.protocol.errors import (
    IncompleteSignature,
    InvalidControl,
    NotAdministrator,
    NotDevMode,
    UnknownControl,
    to_wire,
)
from openkms.protocol.request import build_request
from openkms.protocol.request_ids import new_request_id
from openkms.protocol.verify import Authenticator
from openkms.seedfile import writer
from openkms.service.audit import RequestFacts
from openkms.service.container import Services
from openkms.service.scheduler import SchedulerReport
from openkms.service.testing import DevControl

PREFIX = "/_openkms"
CONTROL_ACTION = "OpenKmsControl"  # the x-acs-action a control request signs
CONTROL_VERSION = "1"  # and its x-acs-version
MAX_BODY_BYTES = 64 * 1024
DEFAULT_REQUESTS = 100

Body = dict[str, Any]
Endpoint = Callable[["ControlHandler", Body, dict[str, str]], Body]


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _when(value: Any) -> float:
    """A time as epoch seconds or ISO 8601 (``2030-01-01T00:00:00Z``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise InvalidControl("Time must be epoch seconds or an ISO 8601 time")


def _report(report: SchedulerReport) -> Body:
    return {
        "Rotated": list(report.rotated),
        "Purged": list(report.purged),
        "MaterialsExpired": list(report.materials_expired),
        "ImportTokensPurged": report.tokens_purged,
    }


class ControlHandler:
    def __init__(self, services: Services, control: DevControl, nonces: NonceCache, auth_clock: Clock) -> None:
        self._services = services
        self._control = control
        self._auth = Authenticator(services.identity, nonces)
        self._auth_clock = auth_clock

    # --- the endpoints: (method, path below /_openkms) -> function of the JSON body and the query

    def clock(self, _body: Body, _query: dict[str, str]) -> Body:
        now = self._control.clock.now()
        return {"Now": _iso(now), "Epoch": now, "OffsetSeconds": self._control.clock.offset}

    def advance(self, body: Body, query: dict[str, str]) -> Body:
        seconds = body.get("Seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise InvalidControl("Seconds must be a number")
        report = _report(self._control.advance(float(seconds)))  # the time answered is after the move
        return {**self.clock(body, query), "Scheduler": report}

    def set_time(self, body: Body, query: dict[str, str]) -> Body:
        report = _report(self._control.set_time(_when(body.get("Time"))))
        return {**self.clock(body, query), "Scheduler": report}

    def faults(self, _body: Body, _query: dict[str, str]) -> Body:
        return {"Faults": [rule.to_json() for rule in self._control.faults.rules()]}

    def add_fault(self, body: Body, _query: dict[str, str]) -> Body:
        try:
            return self._control.faults.add(body).to_json()
        except BadRule as exc:
            raise InvalidControl(str(exc)) from None

    def clear_faults(self, _body: Body, _query: dict[str, str]) -> Body:
        self._control.faults.clear()
        return {}

    def reset(self, body: Body, _query: dict[str, str]) -> Body:
        """``{"To": "seed"}`` (the default when the server has a seed) or ``{"To": "empty"}``."""
        to = body.get("To", "seed" if self._control.seed is not None else "empty")
        if to not in ("seed", "empty"):
            raise InvalidControl('To must be "seed" or "empty"')
        if to == "seed" and self._control.seed is None:
            raise InvalidControl("the server was started without a seed (--seed FILE)")
        self._control.reset(to_seed=to == "seed")
        return {"To": to}

    def seed(self, _body: Body, _query: dict[str, str]) -> Body:
        """The data as a seed document, material and values in clear: dev servers only."""
        if not self._control.dev or self._control.seeding is None:
            raise NotDevMode()
        seed, skipped = self._control.seeding.export()
        return {"Seed": writer.to_document(seed), "SkippedKeys": skipped}

    def requests(self, _body: Body, query: dict[str, str]) -> Body:
        limit = query.get("Limit", str(DEFAULT_REQUESTS))
        if not limit.isdigit():
            raise InvalidControl("Limit must be a whole number")
        return {"Requests": [r.to_json() for r in self._control.requests.last(int(limit))]}

    ENDPOINTS: ClassVar[dict[tuple[str, str], tuple[str, Endpoint]]] = {
        ("GET", "/clock"): ("GetClock", clock),
        ("POST", "/clock/advance"): ("AdvanceClock", advance),
        ("POST", "/clock/set"): ("SetClock", set_time),
        ("GET", "/faults"): ("ListFaults", faults),
        ("POST", "/faults"): ("AddFault", add_fault),
        ("DELETE", "/faults"): ("ClearFaults", clear_faults),
        ("POST", "/reset"): ("Reset", reset),
        ("GET", "/seed"): ("ExportSeed", seed),
        ("GET", "/requests"): ("ListRequests", requests),
    }

    def handle(
        self, method: str, path: str, raw_query: bytes, headers: list[tuple[bytes, bytes]], body: bytes, client: str
    ) -> tuple[int, bytes]:
        facts = RequestFacts(EventType.API_CALL, new_request_id(), client, service="openkms")
        facts.api_version = CONTROL_VERSION
        self._control.clock.refresh()
        try:
            status, answer = 200, self._run(facts, method, path, raw_query, headers, body)
        except errors.KmsError as exc:
            wire = to_wire(exc)
            facts.error_code, facts.error_message = wire.code, wire.audit_message
            status = wire.status
            answer = {"RequestId": facts.request_id, "Code": wire.code, "Message": wire.message, "HttpStatus": status}
        try:
            self._services.audit.request(facts)
        except errors.AuditUnavailable as exc:  # fail-closed: no answer whose event is lost
            wire = to_wire(exc)
            status = wire.status
            answer = {"RequestId": facts.request_id, "Code": wire.code, "Message": wire.message, "HttpStatus": status}
        return status, json.dumps(answer).encode()

    def _run(
        self,
        facts: RequestFacts,
        method: str,
        path: str,
        raw_query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Body:
        found = self.ENDPOINTS.get((method, path.removeprefix(PREFIX).rstrip("/") or "/"))
        if found is None:
            raise UnknownControl(method, path)
        facts.event_name, endpoint = found
        req = build_request(method, path, raw_query, headers, body)
        if not (req.header("authorization") or "").startswith("ACS3-"):
            raise IncompleteSignature("The control API takes V3 signatures (ACS3-HMAC-SHA256) only.")
        cred = self._auth.authenticate(req, self._auth_clock.now())
        facts.access_key_id = cred.access_key_id
        if not self._control.is_administrator(cred):
            raise NotAdministrator()
        region = self._services.regions.resolve(None, None).id
        facts.caller = Caller(cred.account_uid, region, cred.access_key_id, cred.user_name, facts.source_ip)
        facts.region = region
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            raise InvalidControl("the body is not JSON") from None
        if not isinstance(parsed, dict):
            raise InvalidControl("the body must be a JSON object")
        facts.parameters = {k: v for k, v in parsed.items() if isinstance(v, str | int | float)}
        self._services.audit.admit()
        started = time.perf_counter()
        answer = endpoint(self, parsed, dict(req.query))
        answer["RequestId"] = facts.request_id
        answer.setdefault("ElapsedMs", round((time.perf_counter() - started) * 1000, 3))
        return answer


class ControlApp:
    """The ASGI callable for ``/_openkms/``; ``offload`` runs the handler in a worker thread."""

    def __init__(self, handler: ControlHandler, offload: bool = False) -> None:
        self._handler = handler
        self._offload = offload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                await _send(send, 413, b'{"Code": "InvalidControl", "Message": "The body is too large."}')
                return
            more = message.get("more_body", False)
        peer = scope.get("client")
        args = (scope["method"], scope["path"], scope["query_string"], scope["headers"], body, peer[0] if peer else "")
        if self._offload:
            status, payload = await run_blocking(self._handler.handle, *args)
        else:
            status, payload = self._handler.handle(*args)
        await _send(send, status, payload)


async def _send(send: Send, status: int, payload: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
