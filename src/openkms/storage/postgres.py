"""PostgreSQL: a pool of connections checked before use; writes of one scope queue on an advisory lock."""

from __future__ import annotations

from typing import Self

from sqlalchemy import create_engine

from openkms.storage.sql.scopes import POSTGRES_SCOPE_LOCK
from openkms.storage.sql.store import SqlStore


class PostgresStore(SqlStore):
    scope_lock = POSTGRES_SCOPE_LOCK
    calls_are_brief = False  # a network round trip: callers make their calls from a worker thread
    connect_verb = "connect to"

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True))
