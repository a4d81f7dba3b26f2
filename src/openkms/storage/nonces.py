"""Replay protection for a node: a small SQLite file of seen nonces, shared by every worker process.

A node with several worker processes claims each nonce in the file (``SqliteNonceCache``): the
only place all of them see. A node with one process keeps the nonces in memory and writes them
to the file behind, in batches (``ProcessNonceCache``): the file is then only what a restart
reads back, and the request no longer waits for a SQLite write.

It is a separate file from the key store so that the write on every request never contends with
key-management writes, and it runs with ``synchronous=OFF``: losing the last moments of nonces in
an operating-system crash reopens the replay window only for requests signed in those moments,
whose timestamps still expire 15 minutes later.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

from openkms.domain import errors

WINDOW_SECONDS = 15 * 60
log = logging.getLogger("openkms.nonces")
_PURGE_EVERY = 2048


class SqliteNonceCache:
    def __init__(self, path: Path, window: float = WINDOW_SECONDS) -> None:
        self._path = path
        self._window = window
        self._local = threading.local()
        self._claims = 0
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, seen_at REAL NOT NULL)")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def claim(self, nonce: str, now: float) -> bool:
        conn = self._conn()
        try:
            cur = conn.execute(
                "INSERT INTO nonces (nonce, seen_at) VALUES (?, ?) "
                "ON CONFLICT (nonce) DO UPDATE SET seen_at = excluded.seen_at WHERE nonces.seen_at < ?",
                (nonce, now, now - self._window),
            )
            fresh = cur.rowcount == 1
            self._claims += 1
            if self._claims % _PURGE_EVERY == 0:
                conn.execute("DELETE FROM nonces WHERE seen_at < ?", (now - self._window,))
        except sqlite3.Error as exc:
            raise errors.BackendUnavailable("The replay-protection store is not available.") from exc
        return fresh

    def record(self, seen: list[tuple[str, float]]) -> None:
        """Write nonces claimed elsewhere (in a process's memory) in one transaction."""
        conn = self._conn()
        with conn:
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO nonces (nonce, seen_at) VALUES (?, ?) "
                "ON CONFLICT (nonce) DO UPDATE SET seen_at = max(nonces.seen_at, excluded.seen_at)",
                seen,
            )
            if seen:
                conn.execute("DELETE FROM nonces WHERE seen_at < ?", (seen[-1][1] - self._window,))

    def recent(self, now: float) -> list[tuple[str, float]]:
        rows = self._conn().execute(
            "SELECT nonce, seen_at FROM nonces WHERE seen_at >= ? ORDER BY seen_at", (now - self._window,)
        )
        return [(str(n), float(t)) for n, t in rows]


_FLUSH_BATCH = 256
_FLUSH_SECONDS = 1.0


class ProcessNonceCache:
    """Nonces of a one-process node: claimed in memory, persisted behind so a restart refuses replays.

    The batch written every ``_FLUSH_BATCH`` claims or ``_FLUSH_SECONDS`` (and at close) is what a
    crash of the process can lose: at most that many nonces, each still bound by its 15-minute
    timestamp window, the same trade as ``synchronous=OFF`` in the shared file.
    """

    def __init__(self, path: Path, window: float = WINDOW_SECONDS, now: float | None = None) -> None:
        self._file = SqliteNonceCache(path, window)
        self._window = window
        self._lock = threading.Lock()
        # Insertion order is claim order, so the oldest entries are always at the front.
        self._seen: dict[str, float] = dict(self._file.recent(time.time() if now is None else now))
        self._pending: list[tuple[str, float]] = []
        self._flushed_at = time.monotonic()

    def claim(self, nonce: str, now: float) -> bool:
        with self._lock:
            seen = self._seen.get(nonce)
            if seen is not None and seen >= now - self._window:
                return False
            self._seen.pop(nonce, None)  # re-inserted at the back: order stays by time
            self._seen[nonce] = now
            self._pending.append((nonce, now))
            self._expire(now)
            if len(self._pending) >= _FLUSH_BATCH or time.monotonic() - self._flushed_at >= _FLUSH_SECONDS:
                self._flush()
        return True

    def _expire(self, now: float) -> None:
        # At most two entries per claim: the memory stays bounded and no claim pays for a sweep.
        for _ in range(2):
            oldest = next(iter(self._seen.items()), None)
            if oldest is None or oldest[1] >= now - self._window:
                return
            del self._seen[oldest[0]]

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        self._flushed_at = time.monotonic()
        try:
            self._file.record(pending)
        except sqlite3.Error as exc:
            # The claims in memory stand and the request that triggered the write is valid:
            # only the copy a restart would read back is missing.
            log.warning("could not persist %d replay-protection nonces: %s", len(pending), exc)

    def close(self) -> None:
        with self._lock:
            self._flush()
