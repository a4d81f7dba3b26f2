"""PostgreSQL: a pool of connections checked before use; writes of one scope queue on an advisory lock.

Reads are remembered, node-wide, and checked against the change counter once per request
(storage/sql/changes.py): a request whose rows are all remembered takes no pooled connection.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, create_engine

from openkms.storage.sql import changes
from openkms.storage.sql.db import MemoDb
from openkms.storage.sql.scopes import POSTGRES_SCOPE_LOCK
from openkms.storage.sql.store import FAILED, SqlStore, SqlUnitOfWork

# The key, among a memo's rows, of the read unit of work over them (theirs are pairs, never one item).
_READ = ("read unit of work",)


class _Read(AbstractContextManager[SqlUnitOfWork]):
    """A read over remembered rows: its unit of work, and driver errors as ``BackendUnavailable``."""

    __slots__ = ("_store", "_uow")

    def __init__(self, uow: SqlUnitOfWork, store: SqlStore) -> None:
        self._uow = uow
        self._store = store

    def __enter__(self) -> SqlUnitOfWork:
        return self._uow

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc is not None:
            failure = self._store.unavailable(exc, FAILED)
            if failure is not None:
                raise failure from exc


class PostgresStore(SqlStore):
    scope_lock = POSTGRES_SCOPE_LOCK
    calls_are_brief = False  # a network round trip: callers make their calls from a worker thread
    connect_verb = "connect to"
    bump = changes.BUMP

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        # The checks' own small pool: autocommit, no ping (changes.Changes).
        # Seldom used on the request path: the nonce claim checks for the requests that claim.
        checks = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=4, max_overflow=8)
        self._changes = changes.Changes(checks)
        self._one_statement = changes.OneStatementConnection(engine)

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True))

    def read(self) -> AbstractContextManager[SqlUnitOfWork]:
        memo = changes.validated(self)
        if not isinstance(memo, dict):
            memo = self._unchecked()
        if memo is None:
            memo = self._changes.memo()
            changes.remember(self, memo)
        # One unit of work per counter value, kept with the rows it remembers: it holds no
        # connection (changes.OneStatementConnection), so every request may share it.
        found: _Read | None = memo.get(_READ)
        if found is None:
            found = memo[_READ] = _Read(SqlUnitOfWork(MemoDb(self._one_statement, self._statements, memo)), self)
        return found

    def _unchecked(self) -> dict[tuple[Any, ...], Any] | None:
        """Within ``deferred``: the remembered rows as they are, the same for the whole block."""
        scope = changes.current()
        if scope is None or not scope.deferred:
            return None
        found = scope.provisional.get(id(self))
        if found is None:
            found = scope.provisional[id(self)] = self._changes.unchecked()
        return found[1]

    def deferred(self) -> AbstractContextManager[None]:
        return changes.deferred()

    def observed(self, counter: int) -> None:
        """The nonce claim read the change counter: the request's reads from now on use the rows
        remembered under it, and those it read unchecked before are ``stale`` if it moved."""
        memo = self._changes.observe(counter)
        scope = changes.current()
        if scope is None:
            return
        used = scope.provisional.pop(id(self), None)
        scope.validated[id(self)] = memo
        if used is not None and used[0] != counter:
            scope.stale.add(id(self))

    def stale(self) -> bool:
        scope = changes.current()
        return scope is not None and id(self) in scope.stale

    def recheck(self) -> bool:
        """Before a refusal that rests on rows read unchecked: check now. Whether they changed."""
        scope = changes.current()
        used = None if scope is None else scope.provisional.pop(id(self), None)
        if used is None:
            return False  # every row the request read was checked
        memo = self._changes.memo()
        changes.remember(self, memo)
        return memo is not used[1]

    def close(self) -> None:
        self._changes.close()
        super().close()

    dispose = close
