"""Replay protection shared by every worker process of a node: a small SQLite file of seen nonces.

It is a separate file from the key store so that the write on every request never contends with
key-management writes, and it runs with ``synchronous=OFF``: losing the last moments of nonces in
an operating-system crash reopens the replay window only for requests signed in those moments,
whose timestamps still expire 15 minutes later.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from openkms.domain import errors

WINDOW_SECONDS = 15 * 60
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
