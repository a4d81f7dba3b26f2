"""The embedded SQLite store: one file in the data directory, WAL mode, immediate write transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, event

from openkms.domain import errors
from openkms.storage.sql import changes
from openkms.storage.sql.db import MemoDb
from openkms.storage.sql.store import SqlStore, SqlUnitOfWork

BUSY_TIMEOUT_MS = 10_000


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def create_sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=8, max_overflow=16, pool_pre_ping=False)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's begin event (below) issue BEGIN, so writes can ask for IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers never deadlock on lock upgrade.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


class SqliteStore(SqlStore):
    """Reads use one long-lived autocommit connection per thread: a pool checkout and check-in
    cost more than the indexed lookups of a request.

    That connection never writes, so ``PRAGMA data_version`` on it moves exactly when a commit
    (from any connection, any process) may have changed what it would read; until then the
    results of its queries are remembered. A request then costs one cheap pragma instead of
    looking up its AccessKey, key and version again, and only one: the reads of a request's scope
    (``request()``) made on one thread's connection trust the first one's pragma.
    """

    scope_lock = None  # BEGIN IMMEDIATE already serialises every writer
    calls_are_brief = True  # a file in this process: lookups take microseconds
    connect_verb = "open"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._local = threading.local()

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(create_sqlite_engine(url))

    def _begin_write(self, conn: Connection) -> None:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        conn.begin()

    def _reader(self) -> _Reader:
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            raw = self.engine.raw_connection()
            driver: sqlite3.Connection = raw.driver_connection  # type: ignore[assignment]
            raw.detach()  # owned by this thread from now on, outside the pool
            reader = self._local.reader = _Reader(driver, MemoDb(driver, self._statements))
        return reader

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        try:
            reader = self._reader()
            if changes.validated(self) is not reader:
                reader.refresh()
                changes.remember(self, reader)
            yield reader.uow
        except sqlite3.Error as exc:
            raise errors.BackendUnavailable("The database failed.") from exc


class _Reader:
    def __init__(self, conn: sqlite3.Connection, db: MemoDb) -> None:
        self._conn = conn
        self._db = db
        self.uow = SqlUnitOfWork(db)
        self._version: int | None = None

    def refresh(self) -> None:
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._version:
            self._db.forget()
            self._version = version
