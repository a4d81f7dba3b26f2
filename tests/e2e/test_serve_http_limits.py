"""``openkms serve`` refuses what it cannot afford (issue 17): heads and bodies past their limits,
connections that never finish a request, and more connections than it keeps.

Every client here is raw TCP, so the test says exactly what goes on the wire. A careful client
stops sending once the server has answered; each refusal is checked for its status and for the
server closing the connection after it. The timeouts are those of the test's configuration, a
second or less, so that no test waits long.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import raw
from tests.servers import ProcessServer, process_server

CONFIG = """
[http]
request_timeout_seconds = 1
keep_alive_timeout_seconds = 1
max_connections = 32
"""
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    base = tmp_path_factory.mktemp("http-limits")
    config = base / "openkms.toml"
    config.write_text(CONFIG)
    with process_server(base / "data", "--config", str(config)) as server:
        yield server


@dataclass
class Answer:
    status: int | None  # None: the server closed without answering
    head: bytes
    body: bytes
    closed: bool  # the server ended the connection (FIN or reset) after its answer
    seconds: float  # from the first byte sent to the end of the connection

    def json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.body)
        return data


def connect(srv: ProcessServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=10)


def push(sock: socket.socket, pieces: Iterable[bytes], pause: float = 0.0) -> None:
    """Sends the pieces, ``pause`` seconds apart, until the server answers or closes."""
    for piece in pieces:
        view = memoryview(piece)
        while view:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            if readable:
                return
            assert writable, "the server neither reads nor answers"
            try:
                view = view[sock.send(view) :]
            except OSError:  # reset: the server is gone
                return
        if pause:
            readable, _, _ = select.select([sock], [], [], pause)
            if readable:
                return


def answer(sock: socket.socket, started: float, timeout: float = 10) -> Answer:
    """Everything the server sends until it ends the connection (or ``timeout`` passes)."""
    data = b""
    closed = False
    sock.settimeout(timeout)
    try:
        while chunk := sock.recv(65536):
            data += chunk
        closed = True
    except TimeoutError:
        pass
    except OSError:
        closed = True
    seconds = time.monotonic() - started
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None
    return Answer(status, head, body, closed, seconds)


def exchange(srv: ProcessServer, pieces: Iterable[bytes], pause: float = 0.0) -> Answer:
    sock = connect(srv)
    started = time.monotonic()
    push(sock, pieces, pause)
    return answer(sock, started)


def endless_header(size: int) -> Iterator[bytes]:
    """One header whose value never seems to end: ``size`` bytes in 64 KiB pieces."""
    yield b"POST / HTTP/1.1\r\nHost: kms\r\nX-Pad: "
    for _ in range(size // 65536):
        yield b"v" * 65536
    yield b"\r\nContent-Length: 0\r\n\r\n"


def many_headers(count: int, value_bytes: int = 8) -> Iterator[bytes]:
    yield b"GET /healthz HTTP/1.1\r\nHost: kms\r\n"
    line = b"X-Pad: " + b"v" * value_bytes + b"\r\n"
    batch = max(1, 65536 // len(line))
    for start in range(0, count, batch):
        yield line * min(batch, count - start)
    yield b"\r\n"


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak since the last reset) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def still_serves(srv: ProcessServer) -> None:
    admin = srv.admin()
    status, data = raw.call(srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"], "DescribeRegions")
    assert status == 200, data


# --- the head: request line, header bytes, header count ------------------------------------------


def test_a_header_that_never_ends_is_refused_431(srv: ProcessServer) -> None:
    got = exchange(srv, endless_header(20 * MIB))
    assert got.status == 431, got.head
    assert got.closed
    assert b"content-type: text/plain" in got.head.lower()
    assert b"header" in got.body.lower()
    still_serves(srv)


def test_a_trailer_that_never_ends_is_refused_431(srv: ProcessServer) -> None:
    """Trailer fields, after a chunked body, are held by the parser as header fields are."""

    def pieces() -> Iterator[bytes]:
        yield b"POST /?Action=DescribeRegions HTTP/1.1\r\nHost: kms\r\nTransfer-Encoding: chunked\r\n\r\n"
        yield b"3\r\na=b\r\n0\r\nX-Trailer: "
        for _ in range(20 * MIB // 65536):
            yield b"v" * 65536
        yield b"\r\n\r\n"

    got = exchange(srv, pieces())
    assert (got.status, got.closed) == (431, True), got.head
    still_serves(srv)


def test_header_bytes_over_the_limit_are_refused_431(srv: ProcessServer) -> None:
    # 40 headers of 1 KiB: over the 32 KiB default, well under the count limit, in one read.
    got = exchange(srv, many_headers(40, 1024))
    assert (got.status, got.closed) == (431, True), got.head
    within = exchange(srv, many_headers(20, 1024))
    assert within.status == 200, within.head


def test_too_many_headers_are_refused_431(srv: ProcessServer) -> None:
    got = exchange(srv, many_headers(101))
    assert (got.status, got.closed) == (431, True), got.head
    assert b"100" in got.body
    assert exchange(srv, many_headers(90)).status == 200


def test_a_long_request_line_is_refused_414(srv: ProcessServer) -> None:
    for size in (65536, 8 * MIB):
        got = exchange(srv, [b"GET /?q=", b"a" * size, b" HTTP/1.1\r\nHost: kms\r\n\r\n"])
        assert (got.status, got.closed) == (414, True), got.head
        assert b"request line" in got.body.lower()
    # Up to the limit, the request reaches the RPC endpoint, which answers it (here: no Action).
    got = exchange(srv, [b"GET /?q=" + b"a" * (65535 - 4) + b" HTTP/1.1\r\nHost: kms\r\n\r\n"])
    assert got.status == 400
    assert got.json()["Code"] == "MissingParameter"


def test_a_websocket_upgrade_is_refused_403_and_the_server_serves_on(srv: ProcessServer) -> None:
    """uvicorn's WebSocket protocol is imported at the first upgrade, not at start
    (http_limits.websockets_on_upgrade): the handshake still reaches the application, which has
    no WebSocket route and refuses it, and the connection closes."""
    upgrade = (
        b"GET /healthz HTTP/1.1\r\nHost: kms\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    for _ in range(2):  # the first upgrade imports the protocol; the second uses it
        got = exchange(srv, [upgrade])
        assert (got.status, got.closed) == (403, True), got.head
    still_serves(srv)


# --- the body ------------------------------------------------------------------------------------


def form_post(body_bytes: int, declared: bool = True) -> Iterator[bytes]:
    framing = f"Content-Length: {body_bytes}" if declared else "Transfer-Encoding: chunked"
    yield f"POST /?Action=DescribeRegions HTTP/1.1\r\nHost: kms\r\n{framing}\r\n".encode()
    yield b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    sent = 0
    while sent < body_bytes:
        piece = (b"P=" if sent == 0 else b"") + b"x" * min(65536, body_bytes - sent - (sent == 0) * 2)
        yield piece if declared else b"%x\r\n%b\r\n" % (len(piece), piece)
        sent += len(piece)
    if not declared:
        yield b"0\r\n\r\n"


def test_a_body_over_the_limit_gets_an_alibaba_413(srv: ProcessServer) -> None:
    got = exchange(srv, form_post(256 * 1024 + 1))
    assert got.status == 413, got.head
    body = got.json()
    assert (body["Code"], body["HttpStatus"]) == ("RequestEntityTooLarge", 413)
    assert "262144" in str(body["Message"])


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_large_body_is_answered_413_and_the_connection_closed(srv: ProcessServer, declared: bool) -> None:
    got = exchange(srv, form_post(200 * MIB, declared))
    assert (got.status, got.closed) == (413, True), got.head
    assert got.json()["Code"] == "RequestEntityTooLarge"
    assert got.seconds < 5, "the server stopped reading the body instead of draining 200 MiB"
    still_serves(srv)


# --- time: half-open, slow and idle connections --------------------------------------------------


def test_slow_and_idle_connections_are_closed_after_the_timeouts(srv: ProcessServer) -> None:
    """Run side by side, so that the test waits about one timeout (1 s), not three."""
    results: dict[str, Answer] = {}

    def slow_head() -> None:  # slowloris: a header line every 0.2 s, the head never complete
        results["head"] = exchange(srv, [b"POST / HTTP/1.1\r\n", *(b"X-A: b\r\n" for _ in range(50))], 0.2)

    def slow_body() -> None:  # a complete head, then a body that trickles
        head = b"POST / HTTP/1.1\r\nHost: kms\r\nContent-Length: 1000\r\n\r\n"
        results["body"] = exchange(srv, [head, *(b"P=1&" for _ in range(50))], 0.2)

    def idle() -> None:  # connects, never sends
        sock = connect(srv)
        results["idle"] = answer(sock, time.monotonic())

    def blank_lines() -> None:  # sends only the empty lines a parser skips before a request
        results["blank"] = exchange(srv, (b"\r\n" for _ in range(50)), 0.2)

    def slow_first_request_then_idle() -> None:  # a request in one byte per 0.1 s, then nothing
        sock = connect(srv)
        started = time.monotonic()
        push(sock, [bytes([b]) for b in b"GET /healthz HTTP/1.1\r\nHost: kms\r\n\r\n"], 0.02)
        results["served"] = answer(sock, started)

    runs = (slow_head, slow_body, idle, blank_lines, slow_first_request_then_idle)
    threads = [threading.Thread(target=t) for t in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert set(results) == {"head", "body", "idle", "blank", "served"}
    for name in ("head", "body"):
        assert (results[name].status, results[name].closed) == (408, True), (name, results[name].head)
        assert 0.9 < results[name].seconds < 3, (name, results[name].seconds)
    for name in ("idle", "blank"):
        assert (results[name].status, results[name].closed) == (None, True), (name, results[name].head)
        assert 0.9 < results[name].seconds < 3, (name, results[name].seconds)
    # The request took under the request timeout, and its connection closed once idle that long.
    assert (results["served"].status, results["served"].closed) == (200, True)
    assert 1.7 < results["served"].seconds < 4


def test_connections_past_the_limit_are_refused_503(srv: ProcessServer) -> None:
    held = [connect(srv) for _ in range(40)]
    try:
        refused: list[tuple[int, bytes]] = []
        waiting = list(held)
        # Until nothing more arrives for 0.3 s, well within the idle timeout (1 s), so that only
        # refusals have anything to read.
        while readable := select.select(waiting, [], [], 0.3)[0]:
            for sock in readable:
                refused.append((held.index(sock), sock.recv(4096).split(b"\r\n", 1)[0]))
                waiting.remove(sock)
        refused.sort()
        assert refused, "40 connections held, none refused (max_connections = 32)"
        assert all(line == b"HTTP/1.1 503 Service Unavailable" for _, line in refused), refused
        assert refused[0][0] <= 32, refused  # fewer if connections of earlier tests are still closing
        assert [i for i, _ in refused] == list(range(refused[0][0], 40)), refused
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while True:  # the server notices the closed connections as soon as it reads them
        try:
            still_serves(srv)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # polling for the server to see the closes, not a domain timer


def test_the_limits_hold_in_every_worker(tmp_path: Path) -> None:
    """Worker processes get the protocol and its limits from the supervisor (pickled)."""
    with process_server(tmp_path / "data", workers=2) as server:
        held = raw.connections_by_worker(server, 1)
        try:
            for (conn,) in held.values():
                assert conn.sock is not None
                sock = conn.sock
                push(sock, many_headers(101))
                got = answer(sock, time.monotonic())
                assert (got.status, got.closed) == (431, True), got.head
        finally:
            raw.close_all(held)


# --- memory ------------------------------------------------------------------------------------


def test_memory_stays_flat_under_clients_sending_huge_heads(srv: ProcessServer) -> None:
    """Before the limits, 4 x 150 MB of headers grew a worker by more than 600 MB, for good."""
    pid = srv.proc.pid  # one worker: the server process itself
    still_serves(srv)
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    before = rss_kib(pid)
    results: list[Answer] = []

    def client() -> None:  # 150 MiB in headers of 8 KiB each
        results.append(exchange(srv, many_headers(150 * MIB // 8194, 8185)))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    after = rss_kib(pid)
    grown_mib = (after["VmRSS"] - before["VmRSS"]) / 1024
    peak_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    assert grown_mib < 24, f"RSS grew by {grown_mib:.0f} MiB ({before} -> {after})"
    assert peak_mib < 32, f"RSS peaked {peak_mib:.0f} MiB above where it started ({before} -> {after})"
    assert [(r.status, r.closed) for r in results] == [(431, True)] * 4, [r.head for r in results]
    still_serves(srv)
