"""uvicorn's httptools protocol with bounds on what one connection can cost a worker.

httptools (llhttp) bounds nothing in a request head: its Python wrapper joins the pieces of a
header until the header ends, uvicorn keeps every header of a request in a list, and uvicorn has
no timeout for reading a request. 4 clients sending 150 MiB of headers each grew a worker by
600 MiB, most of which it kept; a client sending a byte now and then held its connection for
ever. This protocol counts while the parser runs and refuses with a short plain-text answer, then
closes:

- a request line whose URL is over ``max_request_line_bytes``: 414;
- more than ``max_headers`` header fields, or names and values over ``max_header_bytes`` in
  all, or a head (with a chunked body's trailer fields) that keeps coming past both: 431;
- a request not complete ``request_timeout`` seconds after its first byte (slow or half-open
  clients): 408;
- a connection beyond ``max_connections`` in this worker: 503 at once, before anything is read.

A body the application answered before reading it all (the RPC endpoint's 413 past its body
limit, a 404) is not read any further: the connection closes. A connection idle before its first
request or between requests closes after ``keep_alive_timeout`` without an answer.

The hot path is a few operations per callback, counted in instructions (callgrind), not guessed:
about 2,500 more per request than uvicorn's own protocol, under 2% of what the protocol and a
trivial ASGI app take. Summing the bytes of every header as it arrived cost 12,000 more, so the
fields' bytes are summed once, at the end of a head, and only when the reads that carried the
head were larger than the limit. Both timeouts share one timer per connection, which ticks while a
deadline is pending instead of being armed and cancelled for every request as uvicorn's
keep-alive timer was.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

log = logging.getLogger("openkms.http")

# After a refusal, how long what the client still sends is read and dropped. Closing a socket
# with unread data makes the kernel send a reset, which can destroy the answer before the
# client reads it; a half-close lets a client that is still sending see the answer first.
LINGER_SECONDS = 2.0
# A deadline is noticed within a quarter of the shorter timeout after it passes.
TICKS_PER_TIMEOUT = 4
# Bytes that frame a header field on the wire (": " and CRLF), and slack for the request line's
# method and version and for optional whitespace, which the parser does not pass on.
FIELD_FRAMING = 4
HEAD_SLACK = 1024


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_request_line_bytes: int
    max_header_bytes: int
    max_headers: int
    request_timeout: float
    keep_alive_timeout: float
    max_connections: int

    def max_head_bytes(self) -> int:
        """The most a head within every limit can take on the wire."""
        return self.max_request_line_bytes + self.max_header_bytes + FIELD_FRAMING * self.max_headers + HEAD_SLACK

    def tick(self) -> float:
        return min(self.request_timeout, self.keep_alive_timeout) / TICKS_PER_TIMEOUT

    def ticks(self, timeout: float) -> int:
        """Ticks to wait for ``timeout``: one more than it spans, since the first comes early."""
        return math.ceil(timeout / self.tick() - 1e-9) + 1


class _Refusal(Exception):
    """Raised in a parser callback to stop the parser; ``status`` None: close without answering."""

    def __init__(self, status: int | None, reason: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def limited_protocol(limits: HttpLimits) -> type[asyncio.Protocol]:
    """uvicorn's ``http`` setting for these limits. uvicorn only ever calls it (as it would call a
    class), so a factory that binds the limits will do, and it pickles for worker processes."""
    return cast("type[asyncio.Protocol]", _Factory(limits))


@dataclass(frozen=True, slots=True)
class _Factory:
    limits: HttpLimits

    def __call__(self, **kwargs: Any) -> LimitedHttpProtocol:
        return LimitedHttpProtocol(limits=self.limits, **kwargs)


def websockets_on_upgrade() -> type[asyncio.Protocol]:
    """uvicorn's ``ws`` setting: its ``auto`` protocol, imported by the first request that asks to
    upgrade rather than by every start (the ``websockets`` package: about 25 ms of a dev server's
    start, issue 16). openkms serves no WebSocket: the application refuses the upgrade as before."""
    return cast("type[asyncio.Protocol]", _WebSocketsOnUpgrade())


@dataclass(frozen=True, slots=True)
class _WebSocketsOnUpgrade:
    def __call__(self, **kwargs: Any) -> asyncio.Protocol:
        from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

        assert AutoWebSocketsProtocol is not None  # uvicorn[standard] brings the websockets package
        return AutoWebSocketsProtocol(**kwargs)


class LimitedHttpProtocol(HttpToolsProtocol):
    # Slots, not the instance dict: uvicorn's class already sets 28 attributes, and past 30 CPython
    # 3.11 stops sharing the dict's keys, which slows every attribute access, uvicorn's included.
    __slots__ = (
        "_body_seen",
        "_deadline_answer",
        "_done",
        "_head_lower",
        "_head_upper",
        "_idle_ticks",
        "_in_head",
        "_in_message",
        "_linger_timer",
        "_max_field_bytes",
        "_max_fields",
        "_max_head",
        "_max_url",
        "_read_size",
        "_request_ticks",
        "_ticker",
        "_ticks_left",
        "limits",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HttpLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._max_url = limits.max_request_line_bytes
        self._max_fields = limits.max_headers
        self._max_field_bytes = limits.max_header_bytes
        self._max_head = limits.max_head_bytes()
        self._request_ticks = limits.ticks(limits.request_timeout)
        self._idle_ticks = limits.ticks(limits.keep_alive_timeout)
        # The head's size: at most the reads it touched (upper), at least the reads wholly inside
        # it (lower); the head starts and ends in the middle of reads.
        self._read_size = self._head_upper = self._head_lower = 0
        self._in_head = self._in_message = self._body_seen = False
        self._done = False  # answered and half-closed: what still arrives is dropped unread
        # Ticks until the connection times out, idle (closed without an answer) or mid-request
        # (408); None while the application works on a request: its time is not the client's.
        self._ticks_left: int | None = None
        self._deadline_answer: int | None = None
        self._ticker: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None

    # --- connection ---

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            # Not counted any more: it holds no buffer and is gone within LINGER_SECONDS.
            self.connections.discard(self)
            self._refuse(503, f"Service Unavailable: more than {self.limits.max_connections} connections.")
            return
        # uvicorn starts its idle timer only after a response: a client that connects and never
        # sends would hold the connection for ever.
        self._expect(self._idle_ticks, None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_ticking()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        super().connection_lost(exc)

    def shutdown(self) -> None:
        if self._done:  # refused and lingering: nothing left to answer, so no reason to wait
            self.transport.close()
        else:
            super().shutdown()

    def on_response_complete(self) -> None:
        """uvicorn's, with the idle deadline in place of its keep-alive timer."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif not self._in_message:  # else the next request has begun, and has its deadline
            self._expect(self._idle_ticks, None)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, plus the refusals and the head's size. Unlike uvicorn's, a read does not end
        the idle time, a request beginning does: bytes that start none (the empty lines a parser
        skips) keep no connection open."""
        if self._done:
            return
        size = self._read_size = len(data)
        continues_head = self._in_head
        if continues_head:
            self._head_upper += size
        # A read that starts after the head, of a request not yet complete: body, or the chunked
        # encoding's framing and trailer fields, which httptools holds like header fields.
        continues_body = self._in_message and not continues_head
        self._body_seen = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refusal):
                self._refuse(exc.__context__.status, exc.__context__.reason)
            else:
                self._invalid_request()
            return
        except httptools.HttpParserError:
            self._invalid_request()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self._stop_ticking()  # the connection is the WebSocket protocol's from here on
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # httptools holds a header's pieces until the header ends, out of the callbacks' sight:
        # this bounds them, counting only reads that are head from end to end.
        if continues_head and self._in_head:
            self._head_lower += size
            if self._head_lower > self._max_head:
                self._refuse(431, self._fields_too_large())
        elif continues_body and not self._body_seen and self._in_message:
            self._head_lower += size  # trailers count with the head, as they hold what it holds
            if self._head_lower > self._max_head:
                self._refuse(431, self._fields_too_large())

    def _invalid_request(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    # --- parser callbacks (the hot path) ---
    # uvicorn's methods are called by name rather than through super(): building the super object
    # made the four calls of a request cost 3,500 instructions, more than all the counting.

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._in_head = self._in_message = True
        self._head_upper = self._read_size
        self._head_lower = 0
        self._expect(self._request_ticks, 408)

    def on_url(self, url: bytes) -> None:
        self.url += url  # once per read, so a URL never grows past the limit by more than one
        if len(self.url) > self._max_url:
            raise _Refusal(414, f"URI Too Long: the request line's URL is over {self._max_url} bytes.")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self._max_fields:
            raise _Refusal(431, self._fields_too_large())
        # uvicorn's on_header, inlined: a super() call per header would cost more than the count.
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._head_upper > self._max_field_bytes and self._field_bytes() > self._max_field_bytes:
            raise _Refusal(431, self._fields_too_large())
        self._in_head = False
        HttpToolsProtocol.on_headers_complete(self)

    def on_body(self, body: bytes) -> None:
        self._body_seen = True
        if self.cycle.response_complete:
            # Answered before its body was read (a refusal, a 404): the rest is not worth reading.
            raise _Refusal(None)
        HttpToolsProtocol.on_body(self, body)

    def on_message_complete(self) -> None:
        self._in_message = False
        self._ticks_left = None
        HttpToolsProtocol.on_message_complete(self)

    def _field_bytes(self) -> int:
        return sum(len(name) + len(value) for name, value in self.headers)

    # --- time ---

    def _expect(self, ticks: int, answer: int | None) -> None:
        self._ticks_left = ticks
        self._deadline_answer = answer
        if self._ticker is None:
            self._ticker = self.loop.call_later(self.limits.tick(), self._on_tick)

    def _stop_ticking(self) -> None:
        self._ticks_left = None
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _on_tick(self) -> None:
        self._ticker = None
        if self._ticks_left is None or self._done or self.transport.is_closing():
            return  # nothing to wait for; the next deadline starts the ticker again
        self._ticks_left -= 1
        if self._ticks_left > 0:
            self._ticker = self.loop.call_later(self.limits.tick(), self._on_tick)
        elif self._deadline_answer is None:
            self.transport.close()  # idle: nobody is waiting for an answer
        else:
            limit = self.limits.request_timeout
            self._refuse(408, f"Request Timeout: the request was not complete within {limit:g} s.")

    # --- refusals ---

    def _fields_too_large(self) -> str:
        return (
            f"Request Header Fields Too Large: more than {self._max_fields} header fields "
            f"or {self._max_field_bytes} bytes of them."
        )

    def _refuse(self, status: int | None, reason: str) -> None:
        """Answers ``status`` unless another answer is under way on the wire, then half-closes."""
        cycle: RequestResponseCycle | None = self.cycle
        if cycle is None:
            free = True
        elif self._in_head:  # ``cycle`` is the previous request's
            free = cycle.response_complete
        else:
            free = not cycle.response_started
        if status is not None:
            log.info("refused: %d %s", status, reason)
            if free:
                self._write_answer(status, reason)
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application reads no more and its answer is dropped
            cycle.message_event.set()
        if self._in_head:  # what the refused head holds goes now, not with the connection
            self.headers.clear()
            self.url = b""
        self._linger()

    def _write_answer(self, status: int, reason: str) -> None:
        body = reason.encode()
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content += [name, b": ", value, b"\r\n"]
        content.append(b"content-type: text/plain; charset=utf-8\r\n")
        content.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        content.append(body)
        self.transport.write(b"".join(content))

    def _linger(self) -> None:
        self._done = True
        self._in_head = False
        self._ticks_left = None
        self.flow.resume_reading()  # read and drop, so that the client's sending never stalls
        if self.transport.can_write_eof():
            self.transport.write_eof()
        else:
            self.transport.close()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
