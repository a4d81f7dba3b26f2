"""Replay protection for every node on one PostgreSQL database: a nonce claimed by any worker of
any node is refused by all the others for as long as its timestamp is acceptable.

A claim is one statement in its own transaction (``INSERT … ON CONFLICT … RETURNING``): a nonce
seen within the window conflicts and returns no row, without leaving a dead tuple behind, and the
same nonce claimed at once on two nodes has one winner (the primary key decides).

A claim commits with ``synchronous_commit = off``, set for its own transaction only (openkms's
other writes keep the server's setting). What that gives up, and why the guarantee holds anyway:

- A node killed (kill -9) after its claim committed loses nothing: the commit is done in the
  server, visible to every other connection, whether or not its WAL has reached the disk yet.
- Only a crash of the *database server* can lose claims: those of its last moments (at most three
  ``wal_writer_delay``, 600 ms by default). A server that started again has a new
  ``pg_postmaster_start_time()``; the first connection any worker opens afterwards sees that it
  differs from the one recorded in ``nonce_floor`` and raises the floor to the start (durably, in
  a transaction that does wait for its WAL). Every request signed before the database server
  started is then refused as a possible replay: those are the only ones whose claims could be lost.
  A clean restart of the server is treated the same (it cannot be told from a crash here); the
  requests it refuses are those in flight when the server went away.

In a request's greenlet on the event loop (openkms/offload.py) a claim is not sent from here but
handed to the loop's ``ClaimBatcher`` (pg_claims.py), which sends the claims of concurrent requests
as one statement; a claim made anywhere else (a worker thread, the health check) is this module's
own statement on a pooled connection. Both read and raise the floor on each new connection.

Old claims are dropped a bucket (a minute of claims) at a time, once the whole bucket is older than
the window: one indexed ``DELETE … WHERE bucket < …`` per minute per process, not one per claim.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event

from openkms.offload import await_only, in_loop_greenlet
from openkms.storage.sql.autocommit import AutocommitStatements

if TYPE_CHECKING:  # psycopg is the postgres extra's: imported where a claim is batched
    import psycopg

    from openkms.storage.pg_claims import ClaimBatcher, Claimed

log = logging.getLogger("openkms.nonces")
BUCKET_SECONDS = 60  # pg_claims.BUCKET_SECONDS, which cannot be imported without psycopg
_UNAVAILABLE = "The replay-protection store is not available."

# set_config(..., true) holds for this statement's own transaction only (autocommit: one statement,
# one transaction), and a commit reads it before the transaction's settings are undone. Local, so
# that it never outlives the claim on a connection a pooler (PgBouncer) hands to another client.
# The same statement reads the store's change counter (storage/sql/changes.py), as of its start:
# the request's remembered rows are checked by the claim's round trip, not by one of their own.
_CLAIM = (
    "WITH claimed AS ("
    "INSERT INTO nonce_claims (nonce, bucket, seen_at) SELECT %(nonce)s, %(bucket)s, %(now)s "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS unsynced "
    "ON CONFLICT (nonce) DO UPDATE SET bucket = excluded.bucket, seen_at = excluded.seen_at "
    "WHERE nonce_claims.seen_at < %(oldest)s RETURNING 1) "
    "SELECT (SELECT count(*) FROM claimed), (SELECT counter FROM store_changes WHERE id = 1)"
)
_PURGE = "DELETE FROM nonce_claims WHERE bucket < %(bucket)s"
_SERVER_STARTED = "SELECT extract(epoch FROM pg_postmaster_start_time())::float8"
# The first connection ever: nothing was claimed before, so no floor.
_FLOOR_FIRST = (
    "INSERT INTO nonce_floor (id, signed_at, server_started) VALUES (1, 0, %(started)s) ON CONFLICT DO NOTHING"
)
_FLOOR_RAISE = (
    "UPDATE nonce_floor SET signed_at = greatest(signed_at, %(floor)s), server_started = %(started)s "
    "WHERE id = 1 AND server_started <> %(started)s RETURNING signed_at"
)
_FLOOR_READ = "SELECT signed_at FROM nonce_floor WHERE id = 1"


class PostgresNonceCache:
    def __init__(self, engine: Engine, window: float) -> None:
        self._engine = engine
        self._window = window
        self._floor = 0.0
        self._purged_bucket = 0
        self._lock = threading.Lock()
        # Told the change counter each claim read (the store's ``observed``, set by bootstrap).
        self.on_changes: Callable[[int], None] | None = None
        self._statements = AutocommitStatements(engine, _UNAVAILABLE)
        event.listen(engine, "connect", self._on_connect)
        # One batcher per event loop (a worker has one; tests may run several servers).
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ClaimBatcher] = weakref.WeakKeyDictionary()

    @classmethod
    def from_url(cls, url: str, window: float, pool_size: int = 16) -> PostgresNonceCache:
        """A pool of its own: autocommit (a claim is its own transaction: one round trip) and no
        ping before each use (a dead connection is replaced and the claim tried once more).

        Every request claims, from as many threads as requests are in flight: a pool that kept
        fewer connections than that closed the others as they came back and opened new ones
        (measured: one in five claims paid a connection and its floor's four statements).
        ``pool_size`` are kept; at most a quarter more are opened beyond them."""
        overflow = max(pool_size // 4, 1)
        engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=overflow)
        return cls(engine, window)

    @property
    def floor(self) -> float:
        return self._floor

    def claim(self, nonce: str, now: float, signed_at: float | None = None) -> bool:
        if in_loop_greenlet():
            claimed, counter = await_only(self._batched(nonce, now))
        else:
            params = {"nonce": nonce, "bucket": int(now // BUCKET_SECONDS), "now": now, "oldest": now - self._window}
            rows = self._statements.run(_CLAIM, params)  # may open a connection, which reads the floor
            claimed, counter = rows[0]
        if self.on_changes is not None:
            self.on_changes(0 if counter is None else int(counter))
        if signed_at is not None and signed_at < self._floor:
            return False
        self._purge(now)
        return bool(claimed)

    async def _batched(self, nonce: str, now: float) -> Claimed:
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            from openkms.storage.pg_claims import ClaimBatcher

            batcher = ClaimBatcher(self._conninfo, self._window, _UNAVAILABLE, self._on_async_connect)
            self._batchers[loop] = batcher
        return await batcher.claim(nonce, now)

    def _purge(self, now: float) -> None:
        # Every row of a bucket below this one was seen before ``now - window``.
        expired = int((now - self._window) // BUCKET_SECONDS)
        with self._lock:
            if expired <= self._purged_bucket:
                return
            self._purged_bucket = expired
        self._statements.run(_PURGE, {"bucket": expired}, fetch=False)

    def _on_connect(self, dbapi_conn: Any, _record: Any) -> None:
        """Each new connection: raise the floor if the database server started since it was last
        raised, and read it."""
        with dbapi_conn.cursor() as cur:
            cur.execute(_SERVER_STARTED)
            started = float(cur.fetchone()[0])
            cur.execute(_FLOOR_FIRST, {"started": started})
            # Whole seconds, rounded up: a V1 Timestamp has none smaller, and a request signed in
            # the second the server started may have been claimed just before it went down.
            cur.execute(_FLOOR_RAISE, {"floor": float(math.ceil(started)), "started": started})
            raised = cur.fetchone()
            cur.execute(_FLOOR_READ)
            floor = float(cur.fetchone()[0])
            dbapi_conn.commit()  # the floor waits for the disk (a no-op where autocommit is on already)
        self._floored(floor, raised is not None)

    async def _on_async_connect(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """``_on_connect`` for the loop's claim connection (autocommit: the floor is durable)."""
        async with conn.cursor() as cur:
            await cur.execute(_SERVER_STARTED)
            started = float((await cur.fetchone())[0])  # type: ignore[index]
            await cur.execute(_FLOOR_FIRST, {"started": started})
            await cur.execute(_FLOOR_RAISE, {"floor": float(math.ceil(started)), "started": started})
            raised = await cur.fetchone()
            await cur.execute(_FLOOR_READ)
            floor = float((await cur.fetchone())[0])  # type: ignore[index]
        self._floored(floor, raised is not None)

    def _floored(self, floor: float, raised: bool) -> None:
        self._floor = max(self._floor, floor)
        if raised:
            log.warning(
                "the database server restarted and may have lost replay-protection nonces; requests signed "
                "before %s are refused as possible replays (SignatureNonceUsed)",
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._floor)),
            )

    def close(self) -> None:
        for batcher in list(self._batchers.values()):
            batcher.close()
        self._engine.dispose()
