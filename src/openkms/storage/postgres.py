"""PostgreSQL: a pool of connections checked before use; writes of one scope queue on an advisory lock.

Reads are remembered, node-wide, and checked against the change counter once per request
(storage/sql/changes.py): a request whose rows are all remembered takes no pooled connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from sqlalchemy import Engine, create_engine

from openkms.storage.sql import changes
from openkms.storage.sql.db import MemoDb
from openkms.storage.sql.scopes import POSTGRES_SCOPE_LOCK
from openkms.storage.sql.store import FAILED, SqlStore, SqlUnitOfWork


class PostgresStore(SqlStore):
    scope_lock = POSTGRES_SCOPE_LOCK
    calls_are_brief = False  # a network round trip: callers make their calls from a worker thread
    connect_verb = "connect to"
    bump = changes.BUMP

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        # The checks' own small pool: autocommit, no ping (changes.Changes).
        checks = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=30)
        self._changes = changes.Changes(checks)

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True))

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        memo = changes.validated(self)
        if not isinstance(memo, dict):
            memo = self._changes.memo()
            changes.remember(self, memo)
        conn = changes.PooledConnection(self.engine)
        try:
            with self._failures(FAILED):
                yield SqlUnitOfWork(MemoDb(conn, self._statements, memo))
        finally:
            conn.close()

    def close(self) -> None:
        self._changes.close()
        super().close()

    dispose = close
