"""Nonce claims sent from the event loop, many in one statement: PostgreSQL's group commit.

A worker process keeps one asynchronous connection (psycopg's ``AsyncConnection``) on its event
loop. A claim is sent, after one turn of the loop, when none is in flight; the claims that arrive while
one is in flight gather, and go together, as one statement and so one transaction, when it returns (again
after one turn, so that the claims requests reach in that turn go too). Under load a request
waits at most for the statement in flight and then its own, and the database commits once per
batch instead of once per request (its CPU per request was a fifth of the whole; the client's
share of a round trip is paid once too).

Why one connection and not several: each more connection splits the batches and multiplies the
transactions, which is the cost this is here to cut; a claim is a few microseconds of the
database's work, so one connection is never what limits a worker.

The statement is ``pg_nonces._CLAIM`` for many rows (a JSON array's elements), with the same
semantics: ``synchronous_commit = off`` for its own transaction, the change counter read at its
start, a nonce seen within the window left as it is. The rows are inserted in the order of their
nonces (``ORDER BY``), so that two batches taking the same nonces (a replay sent to two nodes at
once) lock them in one order and never deadlock; a nonce twice in one batch is sent once and won
by its first claim only (PostgreSQL refuses a statement that would update one row twice).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import psycopg

from openkms.domain import errors
from openkms.storage.pg_nonces import BUCKET_SECONDS

log = logging.getLogger("openkms.nonces")

# The rows come as one JSON array of [nonce, bucket, seen_at] (orjson's floats round-trip exactly):
# psycopg's array adapters cost more per claim in the worker than the database's whole insert.
_BATCH_CLAIM = (
    "WITH claimed AS ("
    "INSERT INTO nonce_claims (nonce, bucket, seen_at) "
    "SELECT c.value->>0, (c.value->>1)::bigint, (c.value->>2)::float8 "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unsynced, "
    "json_array_elements(%(claims)s::json) AS c "
    "ORDER BY 1 "
    "ON CONFLICT (nonce) DO UPDATE SET bucket = excluded.bucket, seen_at = excluded.seen_at "
    "WHERE nonce_claims.seen_at < excluded.seen_at - %(window)s RETURNING nonce) "
    "SELECT (SELECT array_agg(nonce) FROM claimed), (SELECT counter FROM store_changes WHERE id = 1)"
)

# What a claim answers: whether it won its nonce, and the change counter the statement read.
Claimed = tuple[bool, int]
# Run on each new connection before its first claim (the floor: pg_nonces.PostgresNonceCache).
OnConnect = Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]


class ClaimBatcher:
    """The claims of one event loop: at most one statement in flight, the others gathering."""

    def __init__(self, conninfo: str, window: float, unavailable: str, on_connect: OnConnect) -> None:
        self._conninfo = conninfo
        self._window = window
        self._unavailable = unavailable  # the BackendUnavailable message
        self._on_connect = on_connect
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._cur: psycopg.AsyncCursor[Any] | None = None
        self._waiting: list[tuple[str, float, asyncio.Future[Claimed]]] = []
        self._sending: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference

    async def claim(self, nonce: str, now: float) -> Claimed:
        """Claim ``nonce`` as seen at ``now``: sent now, or with the next batch."""
        future: asyncio.Future[Claimed] = asyncio.get_running_loop().create_future()
        self._waiting.append((nonce, now, future))
        if self._sending is None:
            self._sending = asyncio.get_running_loop().create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        try:
            while self._waiting:
                # One turn of the loop first: the claims that requests reach in this turn go in
                # the same batch (paired runs, eight rounds: the database's CPU per Encrypt fell
                # from 62 to 50 us, the worker's did not move: 571 against 576 us).
                await asyncio.sleep(0)
                batch, self._waiting = self._waiting, []
                try:
                    results = await self._send(batch)
                except Exception as exc:  # every claim of the batch answered, never left waiting
                    if not isinstance(exc, errors.BackendUnavailable):
                        log.exception("a batch of nonce claims failed unexpectedly")
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(errors.BackendUnavailable(self._unavailable))
                    continue
                for _, _, future in batch:
                    if not future.done():  # a cancelled request's: nobody waits for it
                        future.set_result(results.pop(id(future)))
        finally:
            self._sending = None

    async def _send(self, batch: list[tuple[str, float, asyncio.Future[Claimed]]]) -> dict[int, Claimed]:
        """Each claim's answer by its future's id; a nonce twice in the batch is won by its first."""
        first: dict[str, tuple[float, asyncio.Future[Claimed]]] = {}
        for nonce, now, future in batch:
            first.setdefault(nonce, (now, future))
        claims = [(nonce, int(now // BUCKET_SECONDS), now) for nonce, (now, _) in first.items()]
        params = {"claims": orjson.dumps(claims).decode(), "window": self._window}
        won_list, counter = await self._run(params)
        won = set(won_list or ())
        count = 0 if counter is None else int(counter)
        return {id(future): (nonce in won and first[nonce][1] is future, count) for nonce, _, future in batch}

    async def _run(self, params: dict[str, Any]) -> tuple[list[str] | None, int | None]:
        """The statement on the loop's connection: a connection the server dropped is replaced and
        the batch sent once more; BackendUnavailable when that fails too."""
        for attempt in (1, 2):
            try:
                cur = await self._cursor()
                await cur.execute(_BATCH_CLAIM, params)
                row = await cur.fetchone()
                assert row is not None  # a SELECT of two subqueries: always one row
                return row[0], row[1]
            except psycopg.OperationalError as exc:
                await self._drop()
                if attempt == 2:
                    raise errors.BackendUnavailable(self._unavailable) from exc
            except psycopg.Error as exc:
                raise errors.BackendUnavailable(self._unavailable) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _cursor(self) -> psycopg.AsyncCursor[Any]:
        # One cursor for the connection's life: a new one per batch (its adapters copied, then
        # closed) cost the worker about 5 us per claim at six claims a batch.
        if self._cur is None or self._cur.closed or self._cur.connection.closed:
            self._cur = (await self._connection()).cursor()
        return self._cur

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            try:
                await self._on_connect(conn)
            except BaseException:
                await conn.close()
                raise
            self._conn = conn
        return self._conn

    async def _drop(self) -> None:
        self._cur = None
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except psycopg.Error:  # already broken: nothing to say goodbye to
                log.debug("closing a dropped claim connection failed", exc_info=True)

    def close(self) -> None:
        """Without the loop (the process is stopping): the socket closed, nothing awaited."""
        self._cur = None
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.pgconn.finish()
