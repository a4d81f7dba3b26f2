"""Statements written once as SQLAlchemy Core, compiled once per dialect, run on the driver connection.

Each statement is compiled once per dialect (SQLite, PostgreSQL) into the driver's own SQL and
then executed on the driver connection directly: the request path of a KMS runs a few indexed
lookups per call, and SQLAlchemy's per-execution machinery cost more than the lookups themselves
(measured: about 90 of 690 microseconds per Encrypt went to SQL work, 400 to SQLAlchemy).
Transactions, pooling, dialects and migrations stay with SQLAlchemy and Alembic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Dialect, bindparam
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from openkms.offload import blocking

Mapped = TypeVar("Mapped")


def param(name: str) -> Any:
    """A named bind parameter: the value is given when the statement runs."""
    return bindparam(name)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # None for named paramstyles
    defaults: dict[str, Any]  # values of literals in the statement (e.g. a state name)


class Statements:
    """Statements compiled to one dialect's SQL, once."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._cache: dict[int, _Compiled] = {}

    def get(self, stmt: ClauseElement) -> _Compiled:
        found = self._cache.get(id(stmt))
        if found is None:
            compiled = stmt.compile(dialect=self._dialect)
            assert isinstance(compiled, SQLCompiler)
            positions = tuple(compiled.positiontup or ()) if compiled.positional else None
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            found = _Compiled(str(compiled), positions, defaults)
            self._cache[id(stmt)] = found
        return found


class Db:
    """Runs compiled statements on one driver connection."""

    def __init__(self, driver_conn: Any, statements: Statements) -> None:
        self._conn = driver_conn
        self._stmts = statements

    def _run(self, stmt: ClauseElement, params: dict[str, Any]) -> Any:
        c = self._stmts.get(stmt)
        if c.defaults:
            params = {**c.defaults, **params}
        cur = self._conn.cursor()
        # In a request's greenlet on the event loop (PostgreSQL), the round trip runs in a thread.
        blocking(cur.execute, c.sql, [params[n] for n in c.positions] if c.positions is not None else params)
        return cur

    def one(self, stmt: ClauseElement, **params: Any) -> Sequence[Any] | None:
        cur = self._run(stmt, params)
        row = cur.fetchone()
        cur.close()
        return row  # type: ignore[no-any-return]

    def all(self, stmt: ClauseElement, **params: Any) -> list[Sequence[Any]]:
        cur = self._run(stmt, params)
        rows = cur.fetchall()
        cur.close()
        return list(rows)

    def one_as(self, stmt: ClauseElement, to: Callable[[Sequence[Any]], Mapped], **params: Any) -> Mapped | None:
        """The row mapped to a domain object (frozen dataclasses: safe to share)."""
        row = Db.one(self, stmt, **params)
        return to(row) if row else None

    def all_as(self, stmt: ClauseElement, to: Callable[[Sequence[Any]], Mapped], **params: Any) -> list[Mapped]:
        return [to(r) for r in self.all(stmt, **params)]

    def count(self, stmt: ClauseElement, **params: Any) -> int:
        """The first column of the one row a ``SELECT count(*)`` returns."""
        row = self.one(stmt, **params)
        return int(row[0]) if row else 0

    def run(self, stmt: ClauseElement, **params: Any) -> None:
        self._run(stmt, params).close()

    def run_many(self, stmt: ClauseElement, rows: Sequence[dict[str, Any]]) -> None:
        """One statement for many rows (the driver's ``executemany``): a seed's hundreds of rows."""
        if not rows:
            return
        c = self._stmts.get(stmt)
        full = [{**c.defaults, **row} for row in rows] if c.defaults else rows
        cur = self._conn.cursor()
        if c.positions is not None:
            blocking(cur.executemany, c.sql, [[row[n] for n in c.positions] for row in full])
        else:
            blocking(cur.executemany, c.sql, full)
        cur.close()


_MEMO_LIMIT = 4096


class MemoDb(Db):
    """A read-only Db that remembers query results until ``forget`` is called.

    The owner calls ``forget`` whenever the database may have changed since the results were
    read (on SQLite: whenever ``PRAGMA data_version`` moves), or hands each MemoDb the ``memo``
    its check validated (PostgreSQL: storage/sql/changes.py). Rows are tuples, so a remembered
    result cannot be altered by its reader.
    """

    def __init__(
        self, driver_conn: Any, statements: Statements, memo: dict[tuple[Any, ...], Any] | None = None
    ) -> None:
        super().__init__(driver_conn, statements)
        self._memo: dict[tuple[Any, ...], Any] = {} if memo is None else memo

    def forget(self) -> None:
        self._memo.clear()

    def _remembered(self, kind: object, fetch: Any, stmt: ClauseElement, params: dict[str, Any]) -> Any:
        try:
            key = (id(stmt), (kind, *sorted(params.items())))
            found = self._memo.get(key, _MISSING)
        except TypeError:  # an unhashable parameter (a list for IN): not worth remembering
            return fetch(stmt, **params)
        if found is _MISSING:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            found = self._memo[key] = fetch(stmt, **params)
        return found

    def one(self, stmt: ClauseElement, **params: Any) -> Sequence[Any] | None:
        return self._remembered("one", super().one, stmt, params)  # type: ignore[no-any-return]

    def one_as(self, stmt: ClauseElement, to: Callable[[Sequence[Any]], Mapped], **params: Any) -> Mapped | None:
        # Remembers the domain object itself: mapping a row costs as much as reading it.
        fetch = partial(Db.one_as, self, to=to)
        return self._remembered(to, fetch, stmt, params)  # type: ignore[no-any-return]

    def all(self, stmt: ClauseElement, **params: Any) -> list[Sequence[Any]]:
        return list(self._remembered("all", super().all, stmt, params))

    def all_as(self, stmt: ClauseElement, to: Callable[[Sequence[Any]], Mapped], **params: Any) -> list[Mapped]:
        # The domain objects, as one_as: mapping a secret's versions on every GetSecretValue cost
        # more than reading their remembered rows. A new list each time, so its reader may change it.
        fetch = partial(_map_all, self, to=to)
        return list(self._remembered((to, "all"), fetch, stmt, params))

    def run(self, stmt: ClauseElement, **params: Any) -> None:
        raise TypeError("a read unit of work does not write")


_MISSING = object()


def _map_all(db: Db, stmt: ClauseElement, to: Callable[[Sequence[Any]], Mapped], **params: Any) -> tuple[Mapped, ...]:
    """The rows read afresh (not through the memo of rows), mapped; a tuple, as rows are."""
    return tuple(to(r) for r in Db.all(db, stmt, **params))
