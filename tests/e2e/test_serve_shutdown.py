"""SIGTERM stops ``openkms serve`` gracefully: every request the server had received is answered
in full, then the process exits 0.

No sleep in the server makes requests last: two kinds of request are in flight when the signal
is sent. Slow uploads have sent their headers and half of their body before the signal, and send
the rest once the server has logged that it is shutting down (the server is inside them,
waiting). A burst of complete requests on fresh connections is still being worked through: the
signal goes out as soon as the first of them is answered, so some are queued in the kernel or
unread in the server's buffers.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import raw
from tests.e2e.clients import Kms
from tests.servers import ProcessServer, process_server

BURST = 48
KEYS = 60
UPLOADS = 6


class Outcome:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.results: dict[int, tuple[int, dict[str, Any]] | BaseException] = {}
        self.sent = threading.Semaphore(0)
        self.first_answer = threading.Event()

    def record(self, i: int, result: tuple[int, dict[str, Any]] | BaseException) -> None:
        with self.lock:
            self.results[i] = result
        self.first_answer.set()

    def answered(self) -> int:
        with self.lock:
            return len(self.results)


def burst_request(srv: ProcessServer, body: bytes, i: int, out: Outcome) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        raw.send(conn, body)
        out.sent.release()
        out.record(i, raw.receive(conn))
    except BaseException as exc:  # a reset or a truncated answer is the failure under test
        out.record(i, exc)
    finally:
        conn.close()


def slow_upload(srv: ProcessServer, body: bytes, i: int, out: Outcome, rest: threading.Event) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.putrequest("POST", "/")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Content-Length", str(len(body)))
        half = len(body) // 2
        conn.endheaders(body[:half])
        out.sent.release()
        rest.wait(30)
        conn.send(body[half:])
        status, data = raw.receive(conn)
        out.record(i, (status, data))
    except BaseException as exc:
        out.record(i, exc)
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_answers_every_request_in_flight_then_exits_zero(tmp_path: Path, workers: int) -> None:
    with process_server(tmp_path / "data", workers=workers) as srv:
        admin = srv.admin()
        ak, secret = admin["AccessKeyId"], admin["AccessKeySecret"]
        key_id = Kms("new-v3", srv.endpoint, ak, secret).call("CreateKey")["KeyMetadata"]["KeyId"]
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        for _ in range(KEYS - 1):  # so that each ListKeys has a page of keys to describe
            assert raw.post(conn, raw.signed_body(ak, secret, "CreateKey"))[0] == 200
        conn.close()

        def body(i: int) -> bytes:
            if i % 2:
                return raw.signed_body(ak, secret, "ListKeys", PageSize="100")
            return raw.signed_body(ak, secret, "GenerateDataKey", KeyId=key_id, NumberOfBytes="1024")

        out = Outcome()
        rest = threading.Event()
        uploads = [threading.Thread(target=slow_upload, args=(srv, body(i), i, out, rest)) for i in range(UPLOADS)]
        for t in uploads:
            t.start()
        for _ in uploads:
            assert out.sent.acquire(timeout=30)
        burst = [
            threading.Thread(target=burst_request, args=(srv, body(i), i, out)) for i in range(UPLOADS, UPLOADS + BURST)
        ]
        for t in burst:
            t.start()
        for _ in burst:
            assert out.sent.acquire(timeout=30)
        assert out.first_answer.wait(30)

        srv.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        in_flight = UPLOADS + BURST - out.answered()
        # The uploads finish only once the server is shutting down (every worker has said so).
        while srv.stderr().count("Shutting down") < workers and time.monotonic() - signalled < 10:
            time.sleep(0.01)  # polling the log, not waiting on the server
        assert srv.stderr().count("Shutting down") >= workers
        rest.set()
        for t in uploads + burst:
            t.join(30)
        assert srv.proc.wait(timeout=15) == 0
        took = time.monotonic() - signalled

    assert in_flight >= UPLOADS  # the signal came while requests were open
    failures = {i: r for i, r in out.results.items() if not (isinstance(r, tuple) and r[0] == 200)}
    assert failures == {}
    assert len(out.results) == UPLOADS + BURST
    for i, result in out.results.items():
        assert isinstance(result, tuple)
        expected = "Keys" if i % 2 else "CiphertextBlob"
        assert expected in result[1], json.dumps(result[1])
    assert took < 10
    assert "Traceback" not in srv.stderr()
