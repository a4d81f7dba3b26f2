"""Handlers on PostgreSQL run in a greenlet on the event loop (protocol/app.py ``RpcApp`` with
``greenlet``, openkms/offload.py): a request that reads rows it has not remembered or writes does
so from a worker thread, and the loop answers other requests while one waits on the database."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from openkms.protocol.app import RpcApp
from tests.inproc import Inproc, inproc_runtime
from tests.loops import run_loop
from tests.stores import POSTGRES_ENV, POSTGRES_URL, database_url

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")

# If the loop were blocked, nothing on it could release the database: a timer does, after this long,
# and the test fails on the order of events rather than hanging.
RELEASE_AFTER = 20.0


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Inproc, str]]:
    with database_url("postgres") as url:
        assert url is not None
        with inproc_runtime(tmp_path / "data", database_url=url) as node:
            assert node.runtime.greenlet  # what openkms serve's app is given on PostgreSQL
            yield node, url


def _call(app: RpcApp, node: Inproc, action: str, params: dict[str, str] | None = None, **how: Any) -> Any:
    """The request, signed now, through the ASGI app once awaited; its answer."""
    headers, body = node.signed(action, params, **how)
    return _send(app, node, headers, body)


async def _send(app: RpcApp, node: Inproc, headers: list[tuple[bytes, bytes]], body: bytes) -> Any:
    """In a read scope, as openkms serve runs each request."""
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": headers, "client": None}
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with node.runtime.store.request():
        await app(scope, receive, send)
    answer = json.loads(sent[1]["body"])
    return answer if sent[0]["status"] == 200 else (sent[0]["status"], answer["Code"])


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _waits_on_a_lock(url: str) -> bool:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return row is not None and row[0] > 0


async def _until_waiting(url: str) -> None:
    """Until some statement waits on the blocker's lock, asked from a thread (the loop stays free
    only if the request's statement was sent from a thread too)."""
    for _ in range(500):
        if await asyncio.to_thread(_waits_on_a_lock, url):
            return
    raise AssertionError("no statement waited on the blocker's lock")


def test_reads_of_rows_not_remembered_and_writes_work_from_the_greenlet(node: tuple[Inproc, str]) -> None:
    inproc, _url = node
    app = RpcApp(inproc.handler, greenlet=True)

    async def scenario() -> tuple[Any, Any, Any]:
        created = await _call(app, inproc, "CreateKey")  # a fresh node: nothing remembered; a write
        key_id = created["KeyMetadata"]["KeyId"]
        sealed = await _call(app, inproc, "Encrypt", {"KeyId": key_id, "Plaintext": "aGVsbG8="})
        opened = await _call(app, inproc, "Decrypt", {"CiphertextBlob": sealed["CiphertextBlob"]})
        return created, sealed, opened

    created, sealed, opened = run_loop(scenario())
    assert sealed["KeyId"] == created["KeyMetadata"]["KeyId"]
    assert opened["Plaintext"] == "aGVsbG8="


def test_a_replayed_request_is_refused_from_the_greenlet(node: tuple[Inproc, str]) -> None:
    inproc, _url = node
    app = RpcApp(inproc.handler, greenlet=True)

    async def scenario() -> list[Any]:
        once = _call(app, inproc, "DescribeAccountKmsStatus", nonce="replayed-nonce")
        twice = _call(app, inproc, "DescribeAccountKmsStatus", nonce="replayed-nonce")
        return list(await asyncio.gather(once, twice))

    answers = run_loop(scenario())  # either may claim first: each waits for its reads in a thread
    refused = [answer for answer in answers if isinstance(answer, tuple)]
    accepted = [answer for answer in answers if isinstance(answer, dict)]
    assert refused == [(400, "SignatureNonceUsed")]
    assert [answer["AccountStatus"] for answer in accepted] == ["Enabled"]
    # And on the thread's path (one statement per claim), the same nonce is refused too.
    assert inproc.request("DescribeAccountKmsStatus", nonce="replayed-nonce").status == 400


def test_the_loop_answers_other_requests_while_a_write_waits_on_the_database(node: tuple[Inproc, str]) -> None:
    """Another transaction holds the change counter's row: CreateKey's last statement waits on it,
    in a worker thread; meanwhile a request whose claim reads that row is answered on the loop."""
    inproc, url = node
    app = RpcApp(inproc.handler, greenlet=True)
    run_loop(_call(app, inproc, "DescribeAccountKmsStatus"))  # the node's rows remembered
    with psycopg.connect(_libpq(url)) as blocker:
        locked = blocker.execute("SELECT counter FROM store_changes WHERE id = 1 FOR UPDATE").fetchall()
        assert len(locked) == 1  # the row every write raises last: held until the blocker ends
        timer = threading.Timer(RELEASE_AFTER, blocker.rollback)
        timer.start()

        async def scenario() -> tuple[bool, Any, Any]:
            write = asyncio.ensure_future(_call(app, inproc, "CreateKey"))
            await _until_waiting(url)
            other = await _call(app, inproc, "DescribeAccountKmsStatus")
            write_done_first = write.done()
            await asyncio.to_thread(blocker.commit)
            return write_done_first, other, await write

        write_done_first, other, created = run_loop(scenario())
        timer.cancel()
    assert other["AccountStatus"] == "Enabled"
    assert write_done_first is False
    assert created["KeyMetadata"]["KeyState"] == "Enabled"


def test_the_loop_answers_other_requests_while_a_claim_waits(node: tuple[Inproc, str]) -> None:
    """Another transaction inserted the request's nonce and has not committed: the claim's batch
    waits for it. The loop meanwhile answers a request refused before its claim (its refusal is
    checked against the database first, from a worker thread), and the waiting request is refused
    as a replay once the other transaction commits."""
    inproc, url = node
    app = RpcApp(inproc.handler, greenlet=True)
    run_loop(_call(app, inproc, "DescribeAccountKmsStatus"))
    with psycopg.connect(_libpq(url)) as blocker:
        blocker.execute(
            "INSERT INTO nonce_claims (nonce, bucket, seen_at) VALUES (%s, 0, %s)",
            (f"{inproc.access_key_id}:held-nonce", inproc.auth_clock.now()),
        )
        timer = threading.Timer(RELEASE_AFTER, blocker.rollback)
        timer.start()

        async def scenario() -> tuple[bool, Any, Any]:
            waiting = asyncio.ensure_future(_call(app, inproc, "DescribeAccountKmsStatus", nonce="held-nonce"))
            await _until_waiting(url)
            secret, inproc.secret = inproc.secret, "not-the-secret"
            refused = await _call(app, inproc, "DescribeAccountKmsStatus")
            inproc.secret = secret
            waiting_done_first = waiting.done()
            await asyncio.to_thread(blocker.commit)
            return waiting_done_first, refused, await waiting

        waiting_done_first, refused, replayed = run_loop(scenario())
        timer.cancel()
    assert refused == (400, "SignatureDoesNotMatch")
    assert waiting_done_first is False
    assert replayed == (400, "SignatureNonceUsed")
