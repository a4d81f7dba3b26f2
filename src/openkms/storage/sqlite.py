"""The embedded SQLite store: one file in the data directory, WAL mode, immediate write transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from openkms.domain import errors
from openkms.storage.sql import Db, SqlStore, SqlUnitOfWork

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
    cost more than the indexed lookups of a request."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._local = threading.local()

    def _begin_write(self, conn: Connection) -> None:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        conn.begin()

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        db: Db | None = getattr(self._local, "db", None)
        if db is None:
            raw = self.engine.raw_connection()
            driver = raw.driver_connection
            raw.detach()  # owned by this thread from now on, outside the pool
            db = Db(driver, self._statements)
            self._local.db = db
        try:
            yield SqlUnitOfWork(db)
        except sqlite3.Error as exc:
            raise errors.BackendUnavailable("The database failed.") from exc
