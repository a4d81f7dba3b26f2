"""The instance gateway's request pipeline: ``POST /`` with ``x-kms-apiname``, protobuf in and out.

Pipeline: operation -> body digest (``content-sha256``) -> date window -> the client key's
signature over the string to sign -> the caller (its access point's policies, network rules) ->
the operation. Every refusal is a protobuf ``Error`` with the HTTP status and Alibaba's code from
``protocol/errors.py``; every request is an audit event, as an RPC request is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import anyio
from google.protobuf.message import DecodeError

from openkms import access_log
from openkms.domain import errors
from openkms.domain.audit import EventType
from openkms.domain.identity import MAX_SKEW_SECONDS, Caller
from openkms.domain.node_ports import NoMetrics, RequestMetrics
from openkms.domain.ports import Clock
from openkms.offload import in_greenlet, run_blocking
from openkms.protocol.app import InjectedFault, Receive, Scope, Send, inject, report
from openkms.protocol.errors import (
    ActionNotFound,
    BodyDigestMismatch,
    BodyTooLarge,
    IllegalTimestamp,
    IncompleteSignature,
    TimestampExpired,
    TimestampFormat,
    WireError,
    to_wire,
)
from openkms.protocol.gateway.messages import new, parse
from openkms.protocol.gateway.operations import OPERATIONS, GatewayCtx
from openkms.protocol.request_ids import new_request_id
from openkms.service.audit import RequestFacts, noting
from openkms.service.container import Services
from openkms.service.gateway import GatewayAuthenticator, SignedRequest
from openkms.service.testing import DevControl

API_VERSION = "dkms-gcs-0.2"
QUOTA_SERVICE = "gateway"  # domain/quotas.py classes the gateway's operations under this name
CONTENT_TYPE = b"application/x-protobuf"
log = logging.getLogger("openkms.protocol")


@dataclass(frozen=True, slots=True)
class GatewayResponse:
    status: int
    body: bytes = field(repr=False)  # may carry a plaintext or a data key
    request_id: str
    key_version_id: str | None  # x-kms-migrationkeyversionid, on a success
    delay: float = 0.0  # seconds to wait before answering: an injected fault's
    retry_after: int | None = None  # a throttled request's Retry-After, in seconds


def string_to_sign(headers: dict[str, str]) -> bytes:
    """What the client key signed: method, body digest, content type, date, the ``x-kms-``
    headers sorted by name, and the resource, which is always ``/``."""
    signed = "".join(
        f"{name}:{headers[name].strip()}\n" for name in sorted(h for h in headers if h.startswith("x-kms-"))
    )
    head = f"POST\n{headers.get('content-sha256', '')}\n{headers.get('content-type', '')}\n{headers.get('date', '')}\n"
    return (head + signed + "/").encode("utf-8")


class GatewayHandler:
    def __init__(
        self,
        services: Services,
        authenticator: GatewayAuthenticator,
        auth_clock: Clock,
        max_body_bytes: int,
        control: DevControl | None = None,
        metrics: RequestMetrics | None = None,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self._services = services
        self._auth = authenticator
        self._auth_clock = auth_clock
        self._audit = services.audit
        self._control = control  # the test control API's faults and request log, when it is on
        self._metrics: RequestMetrics = metrics or NoMetrics()

    def handle(
        self, raw_headers: list[tuple[bytes, bytes]], body: bytes | None, client: str, secure: bool
    ) -> GatewayResponse:
        started = time.perf_counter()
        self._metrics.started()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        facts = RequestFacts(EventType.API_CALL, new_request_id(), client, headers.get("user-agent", ""))
        name = headers.get("x-kms-apiname", "")
        facts.api_version = API_VERSION
        facts.access_key_id = headers.get("x-kms-acccesskeyid", "")[:128]
        version_id: str | None = None
        delay, retry_after = 0.0, None
        try:
            operation = OPERATIONS.get(name)
            if operation is None:
                raise ActionNotFound(name)
            facts.event_name = name
            if body is None:
                raise BodyTooLarge(self.max_body_bytes)
            caller = self._authenticate(headers, body, client, secure)
            facts.caller, facts.region = caller, caller.region
            message_name, run = operation
            request = _parsed(message_name, body)
            facts.parameters = {f.name: v for f, v in request.ListFields() if isinstance(v, str)}
            # Below the signature, as on the RPC API: only a known account spends its quota.
            self._services.quotas.take(caller.account_uid, caller.region, QUOTA_SERVICE, name)
            self._audit.admit()
            delay = inject(self._control, name, caller)
            with noting() as facts.noted:
                answer, version_id = run(GatewayCtx(caller, self._services), request)
            answer.RequestId = facts.request_id
            status, code, payload = 200, "-", answer.SerializeToString()
        except InjectedFault as fault:
            delay, (status, code, payload) = fault.delay, self._answer(facts, fault.wire)
        except Exception as exc:
            status, code, payload = self._failed(facts, exc)
            retry_after = exc.retry_after if isinstance(exc, errors.Throttled) else None
        try:
            self._audit.request(facts)
        except errors.AuditUnavailable as exc:  # fail-closed: an answer whose event is lost is not given
            status, code, payload = self._failed(facts, exc)
            version_id = None
        self._done(facts, status, code, time.perf_counter() - started)
        version_id = version_id if status == 200 else None
        return GatewayResponse(status, payload, facts.request_id, version_id, delay, retry_after)

    def _done(self, facts: RequestFacts, status: int, code: str, elapsed: float) -> None:
        """The request told to the metrics, the test control API's request log and the access log."""
        report(self._metrics, self._control, self._services.clock, facts, status, code, elapsed)
        if access_log.on():
            ak, region, name = facts.access_key_id or "-", facts.region or "-", facts.event_name or "?"
            access_log.write(
                f"{facts.request_id} POST {name} {status} {code} {elapsed * 1000:.1f}ms ak={ak} region={region}"
            )

    def _authenticate(self, headers: dict[str, str], body: bytes, client: str, secure: bool) -> Caller:
        authorization = headers.get("authorization", "")
        key_id = headers.get("x-kms-acccesskeyid", "")
        if not authorization.startswith("Bearer ") or not key_id:
            raise IncompleteSignature("It needs authorization: Bearer <signature> and x-kms-acccesskeyid.")
        try:
            signature = base64.b64decode(authorization[len("Bearer ") :], validate=True)
        except (binascii.Error, ValueError):
            raise IncompleteSignature("The signature is not base64.") from None
        digest = hashlib.sha256(body).hexdigest().upper()
        if not hmac.compare_digest(headers.get("content-sha256", "").upper(), digest):
            raise BodyDigestMismatch()
        now = self._auth_clock.now()
        _check_date(headers.get("date", ""), now)
        signed = SignedRequest(key_id, string_to_sign(headers), signature, client, secure, headers.get("host", ""))
        return self._auth.caller(signed, now)

    def _failed(self, facts: RequestFacts, exc: Exception) -> tuple[int, str, bytes]:
        if not isinstance(exc, errors.KmsError):
            log.error("gateway request %s failed with an unexpected error", facts.request_id, exc_info=exc)
        if isinstance(exc, errors.Throttled):
            self._metrics.throttled(exc.quota_class)
        return self._answer(facts, to_wire(exc))

    @staticmethod
    def _answer(facts: RequestFacts, wire: WireError) -> tuple[int, str, bytes]:
        """The protobuf ``Error`` of a refusal, noted in the request's audit facts."""
        facts.error_code, facts.error_message = wire.code, wire.audit_message
        error = new("Error", StatusCode=wire.status, ErrorCode=wire.code, ErrorMessage=wire.message,
                    RequestId=facts.request_id)  # fmt: skip
        return wire.status, wire.code, error.SerializeToString()


def _parsed(message_name: str, body: bytes) -> Any:
    try:
        return parse(message_name, body)
    except DecodeError:
        raise errors.InvalidParameter("Body", f"The body is not a protobuf {message_name}.") from None


def _check_date(text: str, now: float) -> None:
    if not text:
        raise IllegalTimestamp("date")
    try:
        signed_at = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        raise TimestampFormat("date", "RFC 1123, e.g. Thu, 03 Dec 2026 07:58:40 GMT") from None
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        raise TimestampExpired()


class GatewayApp:
    """The ASGI callable for gateway requests (``/`` with ``x-kms-apiname``); ``offload`` runs
    the (blocking) handler in a worker thread, ``greenlet`` on the event loop in a greenlet, as
    the RPC app does."""

    def __init__(self, handler: GatewayHandler, offload: bool = False, greenlet: bool = False) -> None:
        self._handler = handler
        self._offload = offload and not greenlet
        self._greenlet = greenlet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body: bytes | None = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self._handler.max_body_bytes:
                body = None  # answered at once, the rest unread (as the RPC app does)
                break
            more = message.get("more_body", False)
        peer = scope.get("client")
        args = (scope["headers"], body, peer[0] if peer else "", scope.get("scheme") == "https")
        if self._offload:
            resp = await run_blocking(self._handler.handle, *args)
        elif self._greenlet:
            resp = await in_greenlet(self._handler.handle, *args)
        else:
            resp = self._handler.handle(*args)
        headers = [
            (b"content-type", CONTENT_TYPE),
            (b"content-length", str(len(resp.body)).encode()),
            (b"x-kms-requestid", resp.request_id.encode()),
        ]
        if resp.key_version_id is not None:
            headers.append((b"x-kms-migrationkeyversionid", resp.key_version_id.encode()))
        if resp.retry_after is not None:
            headers.append((b"retry-after", str(resp.retry_after).encode()))
        if resp.delay:
            await anyio.sleep(resp.delay)
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": resp.body})
