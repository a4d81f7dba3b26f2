"""Remembered reads, checked once per request.

A request reads its AccessKey, its key and version, perhaps a policy: each through a ``read()``
unit of work. Every store remembers what its reads returned and checks, before using a remembered
row, that the database has not changed since it was read. That check is the expensive part on
SQLite (a ``PRAGMA data_version``) and a round trip on PostgreSQL, so it is made once per request:
``request()`` opens a *read scope* (the ASGI app opens one per HTTP request) and the first read in
it checks; the others use what that check validated. A write in the scope ends the validation, so
a request that writes and then reads sees its own write.

On PostgreSQL, where several nodes share the database, the check reads one number: the
``store_changes`` counter, which every write unit of work raises as its last statement, in its
own transaction (``BUMP``). Why a node never answers from a row older than a change acknowledged
before its check began:

* The counter's row is updated under its row lock, held to commit: transactions that raise it
  commit one after another, in the order of the values they leave, and a value is visible only
  once the transaction that wrote it has committed. So when a check reads ``n``, every write that
  raised the counter to ``n`` or below has committed.
* The rows remembered under ``n`` (one dict per value, ``Changes``) were all read after some check
  read ``n`` (READ COMMITTED: each statement sees what was committed when it began), so they
  include every one of those writes.
* A write acknowledged before a request's check raised the counter before it committed, so the
  check reads a value at least as high. If it reads a different value than the remembered rows
  were read under, they are dropped; if the same, they include the write.
* A reader that filled its dict before a writer's commit and stores into it after a newer check
  replaced it stores into a dict nobody uses any more: a dict is used only by a request whose own
  check read its value, so a row read in a writer's gap (between its raise and its commit) is
  remembered under the old value, which the next check no longer matches.

A restore of the database from a backup may set the counter back to a value a running node has
seen: stop the nodes before a restore (docs/DEPLOYMENT.md says so).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql import ClauseElement

from openkms.domain import errors
from openkms.storage.schema import store_changes
from openkms.storage.sql.autocommit import AutocommitStatements

UNAVAILABLE = "The database is not available."

# The last statement of every write unit of work on PostgreSQL: an upsert, so that a database made
# at the head (no row yet) needs nothing seeded.
_upsert = pg_insert(store_changes).values(id=1, counter=1)
BUMP: ClauseElement = _upsert.on_conflict_do_update(
    index_elements=[store_changes.c.id], set_={"counter": store_changes.c.counter + 1}
)
COUNTER = "SELECT counter FROM store_changes WHERE id = 1"


class _Scope:
    """What the reads of one request share: for each store, what its check validated; and, while
    the check is left to the nonce claim (``deferred``), the remembered rows used unchecked."""

    __slots__ = ("deferred", "provisional", "stale", "validated")

    def __init__(self) -> None:
        self.validated: dict[int, object] = {}
        self.deferred = False
        self.provisional: dict[int, tuple[int | None, dict[tuple[Any, ...], Any]]] = {}
        self.stale: set[int] = set()


_SCOPE: ContextVar[_Scope | None] = ContextVar("openkms_read_scope", default=None)


@contextmanager
def request() -> Iterator[None]:
    """A read scope: the first read of each store in it checks for changes, the others do not.

    A ContextVar holds it, so the worker threads a request's handler runs in (their context is a
    copy of the request's) share the one scope object."""
    token = _SCOPE.set(_Scope())
    try:
        yield
    finally:
        _SCOPE.reset(token)


def current() -> _Scope | None:
    return _SCOPE.get()


@contextmanager
def deferred() -> Iterator[None]:
    """Reads in this block may use remembered rows unchecked, until the nonce claim's round trip
    checks them (``Changes.observe``); outside a request's scope, reads check as always."""
    scope = _SCOPE.get()
    if scope is None:
        yield
        return
    scope.deferred = True
    try:
        yield
    finally:
        scope.deferred = False
        scope.provisional.clear()


def validated(owner: object) -> object | None:
    """What ``owner``'s check validated in this scope, or None: check (outside a scope, always)."""
    scope = _SCOPE.get()
    return None if scope is None else scope.validated.get(id(owner))


def remember(owner: object, what: object) -> None:
    scope = _SCOPE.get()
    if scope is not None:
        scope.validated[id(owner)] = what


def written(owner: object) -> None:
    """``owner`` committed a write: the request's next read checks again (and sees it)."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.validated.pop(id(owner), None)


class Changes:
    """A PostgreSQL store's remembered rows, and the counter value they were read under."""

    def __init__(self, engine: Engine) -> None:
        # Autocommit, without a ping before each use: the check is one statement, one round trip;
        # a connection the server dropped is replaced and the check tried once more.
        self._engine = engine
        self._statements = AutocommitStatements(engine, UNAVAILABLE)
        self._state: tuple[int | None, dict[tuple[Any, ...], Any]] = (None, {})

    def memo(self) -> dict[tuple[Any, ...], Any]:
        """The rows remembered under the counter's current value (a new, empty dict if it moved)."""
        return self.observe(self._read())

    def observe(self, counter: int) -> dict[tuple[Any, ...], Any]:
        """The rows remembered under ``counter``, a value just read from the database."""
        tag, memo = self._state  # one tuple: swapped whole, so threads never see half of it
        if tag != counter:
            memo = {}
            self._state = (counter, memo)
        return memo

    def unchecked(self) -> tuple[int | None, dict[tuple[Any, ...], Any]]:
        """The rows remembered under the last value read, and that value: for reads whose check
        comes later, in the nonce claim's statement."""
        return self._state

    def _read(self) -> int:
        rows = self._statements.run(COUNTER)
        return 0 if not rows else int(rows[0][0])

    def close(self) -> None:
        self._engine.dispose()


class OneStatementConnection:
    """A read's connection for rows not remembered: each statement takes a pooled connection,
    runs, reads its rows and gives the connection back, all in one call (one hand-off to a worker
    thread from a request's greenlet: openkms/offload.py). Holding nothing between statements, one
    read unit of work serves every request reading under the same change counter, whatever thread
    or greenlet it runs in. Each statement of a read saw its own snapshot before too (READ
    COMMITTED), so nothing a read sees changes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def cursor(self) -> _OneStatement:
        return _OneStatement(self._engine)


class _OneStatement:
    """What ``Db`` asks of a cursor: ``execute`` (the whole round trip), then its rows."""

    __slots__ = ("_engine", "_rows")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._rows: list[Any] = []

    def execute(self, sql: str, params: Any) -> None:
        try:
            raw = self._engine.raw_connection()
        except Exception as exc:  # SQLAlchemy wraps the driver's refusal to connect
            raise errors.BackendUnavailable(UNAVAILABLE) from exc
        try:
            with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
                cur.execute(sql, params)
                self._rows = list(cur.fetchall()) if cur.description is not None else []
        finally:
            raw.close()  # back to the pool, which rolls the read's transaction back

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return self._rows

    def close(self) -> None:
        self._rows = []
