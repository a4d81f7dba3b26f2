"""Replay protection for a node: a SQLite file of the nonces seen within the window.

It is a separate file from the key store so that the write on every request never contends with
key-management writes, and it runs with ``synchronous=OFF``: losing the last moments of nonces in
an operating-system crash reopens the replay window only for requests signed in those moments,
whose timestamps still expire 15 minutes later.

A node with several worker processes claims each nonce in the file with one atomic statement
(``SqliteNonceCache``): the file is the only place all of them see. A node with one process
(``ProcessNonceCache``) keeps new claims in memory and writes them behind in batches; a nonce is
looked up in the file only when a filter of the nonces the file may hold (``_Filter``: every
nonce of the file when the process started, and every one it claimed since) says it may be there,
which a fresh nonce almost never is. Memory holds one batch and the filter's fixed 4 MiB whatever
the request rate, while the file holds the window (tens of millions of nonces at full speed).

A batch not yet written is lost when the process is killed, and a request acknowledged just
before could be replayed after the restart. So each such process marks that it runs (``_Runs``:
a file under ``nonce-runs/`` it holds locked while it lives), and one that starts and finds the
mark of a process that died without closing refuses every request signed before its own start
(the *floor*): those are the only ones whose nonces it may have lost. Requests signed after the
start are untouched; a client whose clock runs ahead of the server's by more than the restart took
could still replay, which the README states.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from openkms.domain import errors

WINDOW_SECONDS = 15 * 60
log = logging.getLogger("openkms.nonces")
_PURGE_EVERY = 2048
_FLUSH_BATCH = 256
_FLUSH_SECONDS = 1.0
# Claims kept in memory while the file refuses writes (a full disk): beyond this, requests are
# refused rather than memory growing without end or claims being forgotten.
_MAX_PENDING = 100_000


class _NonceFile:
    """The file and a connection per thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, seen_at REAL NOT NULL)")
            # Expired nonces are purged by range: without the index each purge reads the whole table.
            conn.execute("CREATE INDEX IF NOT EXISTS nonces_seen_at ON nonces (seen_at)")
            conn.execute("CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY CHECK (id = 1), signed_at REAL)")

    def floor(self) -> float:
        row = self.conn().execute("SELECT signed_at FROM floor WHERE id = 1").fetchone()
        return float(row[0]) if row else 0.0

    def raise_floor(self, to: float) -> None:
        """Kept in the file, durably: the process that finds a dead one's mark is not always the
        one that serves (``openkms serve`` opens the store once before its workers)."""
        conn = self.conn()
        conn.execute("PRAGMA synchronous=FULL")
        try:
            conn.execute(
                "INSERT INTO floor (id, signed_at) VALUES (1, ?) "
                "ON CONFLICT (id) DO UPDATE SET signed_at = max(floor.signed_at, excluded.signed_at)",
                (to,),
            )
        finally:
            conn.execute("PRAGMA synchronous=OFF")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        return conn

    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn


class _Runs:
    """The processes that have the node's write-behind nonce store open, each marked by a file in
    ``directory`` that it holds under an exclusive flock while it lives (the kernel lets go of the
    lock when the process dies, however it dies; a pid would be reused)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, exist_ok=True)
        self.died_unclosed = self._sweep(directory)
        # Locked before it is visible under its name, so a process starting at the same moment
        # never takes a live mark for a dead one.
        temporary = directory / f".{uuid.uuid4().hex}"
        self._fd = os.open(temporary, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self.path = directory / f"{temporary.name[1:]}.run"
        os.rename(temporary, self.path)
        _fsync_dir(directory)

    @staticmethod
    def _sweep(directory: Path) -> bool:
        """Remove the marks of dead processes; whether there was one."""
        found = False
        for mark in directory.glob("*.run"):
            try:
                fd = os.open(mark, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process holds it
            finally:
                os.close(fd)
            found = True
            mark.unlink(missing_ok=True)
        return found

    def close(self) -> None:
        """A clean stop: every claim is in the file, nothing to guard against."""
        self.path.unlink(missing_ok=True)
        os.close(self._fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Filter:
    """The nonces the file may hold, as a Bloom filter: never a false "no" (a nonce added is found
    for at least ``window`` seconds after), and a false "maybe" costs one lookup in the file.

    Two generations, each 2**24 bits (2 MiB), two bits per nonce taken from Python's ``hash`` (a
    keyed hash, randomised per process: a client cannot choose nonces that collide). A generation
    is ``window`` long by the claims' clock; the one before stays until the next turns, so a nonce
    added at any moment of a generation is found for at least a window. With a window of 15
    minutes at 1,500 claims a second (1.35 million nonces a generation) about 2% of fresh nonces
    are looked up anyway.
    """

    _BITS = 1 << 24
    _MASK = _BITS - 1

    def __init__(self, window: float) -> None:
        self._window = window
        self._current = bytearray(self._BITS // 8)
        self._previous = bytearray(self._BITS // 8)
        self._since: float | None = None

    def turn(self, now: float) -> None:
        if self._since is None:
            self._since = now
        elif now - self._since >= self._window:
            self._previous, self._current = self._current, bytearray(self._BITS // 8)
            self._since = now

    def add(self, nonce: str) -> None:
        h = hash(nonce)
        a, b = h & self._MASK, (h >> 24) & self._MASK
        self._current[a >> 3] |= 1 << (a & 7)
        self._current[b >> 3] |= 1 << (b & 7)

    def may_hold(self, nonce: str) -> bool:
        h = hash(nonce)
        a, b = h & self._MASK, (h >> 24) & self._MASK
        bit_a, bit_b = 1 << (a & 7), 1 << (b & 7)
        a, b = a >> 3, b >> 3
        current, previous = self._current, self._previous
        return bool(current[a] & bit_a and current[b] & bit_b) or bool(previous[a] & bit_a and previous[b] & bit_b)


class SqliteNonceCache:
    """Every claim is an atomic insert in the shared file: exact across processes."""

    def __init__(self, path: Path, window: float = WINDOW_SECONDS) -> None:
        self._file = _NonceFile(path)
        self._window = window
        self._claims = 0

    def claim(self, nonce: str, now: float, signed_at: float | None = None) -> bool:
        try:
            conn = self._file.conn()  # a thread's first claim opens its connection
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


class ProcessNonceCache:
    """The nonces of a one-process node: looked up in the file, new claims written behind.

    A batch is written every ``_FLUSH_BATCH`` claims or ``_FLUSH_SECONDS`` (checked at each
    claim) and at close. Until then the batch is in memory, where claims look first; a crash of
    the process can lose that batch, each nonce of it still bound by its timestamp, the same
    trade as ``synchronous=OFF``. The file is read only for a nonce the filter says it may hold.

    Only one process claims in the file (``openkms serve`` with one worker): the filter knows the
    file's nonces from the start and each one claimed since, and no other process adds any.
    """

    def __init__(self, path: Path, window: float = WINDOW_SECONDS) -> None:
        self._file = _NonceFile(path)
        self._window = window
        self._runs = _Runs(path.parent / "nonce-runs")
        if self._runs.died_unclosed:
            # Whole seconds: a V1 Timestamp has no fraction, and a request signed in the second the
            # server started is after the crash (a restart takes longer than that).
            self._file.raise_floor(float(int(time.time())))
        # Requests signed before it are refused: a process died with claims unwritten.
        self.floor = self._file.floor()
        if self._runs.died_unclosed:
            log.warning(
                "a server process stopped without writing all its replay-protection nonces; requests signed "
                "before %s are refused as possible replays (SignatureNonceUsed)",
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.floor)),
            )
        self._filter = _Filter(window)
        try:
            for (nonce,) in self._file.conn().execute("SELECT nonce FROM nonces"):
                self._filter.add(nonce)
        except sqlite3.Error as exc:
            raise errors.BackendUnavailable("The replay-protection store is not available.") from exc
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}
        self._flushed_at = time.monotonic()
        self._last_now = 0.0  # the claims' clock, which tests move: purges follow it, not wall time

    def claim(self, nonce: str, now: float, signed_at: float | None = None) -> bool:
        if signed_at is not None and signed_at < self.floor:
            return False
        with self._lock:
            oldest_valid = now - self._window
            seen = self._pending.get(nonce)
            self._filter.turn(now)
            try:
                conn = self._file.conn()  # a thread's first claim opens its connection
                if seen is None and self._filter.may_hold(nonce):
                    row = conn.execute("SELECT seen_at FROM nonces WHERE nonce = ?", (nonce,)).fetchone()
                    seen = row[0] if row else None
            except sqlite3.Error as exc:
                raise errors.BackendUnavailable("The replay-protection store is not available.") from exc
            if seen is not None and seen >= oldest_valid:
                return False
            if len(self._pending) >= _MAX_PENDING:
                self._flush(oldest_valid)  # one more try before refusing
                if self._pending:
                    raise errors.BackendUnavailable("The replay-protection store is not available.")
            self._pending[nonce] = now
            self._filter.add(nonce)
            self._last_now = max(self._last_now, now)
            if len(self._pending) >= _FLUSH_BATCH or time.monotonic() - self._flushed_at >= _FLUSH_SECONDS:
                self._flush(oldest_valid)
        return True

    def _flush(self, oldest_valid: float) -> None:
        pending, self._pending = self._pending, {}
        self._flushed_at = time.monotonic()
        try:
            conn = self._file.conn()
            with conn:
                conn.execute("BEGIN")
                conn.executemany(
                    "INSERT INTO nonces (nonce, seen_at) VALUES (?, ?) "
                    "ON CONFLICT (nonce) DO UPDATE SET seen_at = excluded.seen_at",
                    pending.items(),
                )
                conn.execute("DELETE FROM nonces WHERE seen_at < ?", (oldest_valid,))
        except sqlite3.Error as exc:
            # The request that triggered the write is valid; keep its batch for the next write
            # (up to _MAX_PENDING claims, after which claims are refused).
            log.warning("could not persist %d replay-protection nonces: %s", len(pending), exc)
            pending.update(self._pending)
            self._pending = pending

    def close(self) -> None:
        with self._lock:
            if self._pending:
                self._flush(self._last_now - self._window)
            if not self._pending:  # all written: the next process has nothing to guard against
                self._runs.close()
