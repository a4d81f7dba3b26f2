"""The Store port over a SQLAlchemy engine: units of work, node values, the health check.

An engine (SQLite, PostgreSQL) is a subclass that says how it is opened, how a write transaction
begins and how a write locks a scope (``sqlite.py``, ``postgres.py``); the repositories are the
same for every engine. Driver and SQLAlchemy errors leave as ``BackendUnavailable``: a conflict
(the driver's ``IntegrityError``: a unique or foreign-key violation) asks for a retry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, ClassVar, Self

from sqlalchemy import Connection, Engine, delete, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ClauseElement

from openkms.domain import errors
from openkms.domain.ports import Fence, UnitOfWork
from openkms.offload import blocking
from openkms.storage.schema import CLUSTER_TABLES, access_keys, accounts, metadata, node_meta, ram_generations
from openkms.storage.sql import changes
from openkms.storage.sql.aliases import SqlAliases
from openkms.storage.sql.app_access import SqlAppAccess
from openkms.storage.sql.db import Db, Statements, param
from openkms.storage.sql.fence import fence_check
from openkms.storage.sql.identity import SqlAccessKeys, SqlAccounts
from openkms.storage.sql.keys import SqlKeys
from openkms.storage.sql.logon import SqlConsoleSessions, SqlLogOnFailures
from openkms.storage.sql.ram import SqlAttachments, SqlPolicies, SqlUsers
from openkms.storage.sql.scopes import Scopes
from openkms.storage.sql.secrets import SqlSecrets
from openkms.storage.sql.tags import SqlTags
from openkms.storage.sql.tokens import SqlImportTokens
from openkms.storage.sql.versions import SqlVersions

NODE_VALUE_GET = select(node_meta.c.value).where(node_meta.c.name == param("name"))
NODE_VALUE_INSERT = insert(node_meta).values(name=param("name"), value=param("value"))
NODE_VALUE_DELETE = delete(node_meta).where(node_meta.c.name == param("name"))
# erase: children before parents; the kept account's own pairs (user_name "") stay with it, and so
# does its RAM generation, which only rises: the authorizer caches policies by it.
# Kept by the control API's reset: the node's own values and the cluster's coordination.
_KEPT = {node_meta.name, accounts.name, access_keys.name, ram_generations.name, *CLUSTER_TABLES}
ERASE = (
    *(delete(t) for t in reversed(metadata.sorted_tables) if t.name not in _KEPT),
    delete(ram_generations).where(ram_generations.c.account_uid != param("account")),
    delete(access_keys).where(or_(access_keys.c.account_uid != param("account"), access_keys.c.user_name != "")),
    delete(accounts).where(accounts.c.uid != param("account")),
)

# The lease the writes of this context (a thread, a task) must still hold: the scheduler's.
_FENCE: ContextVar[Fence | None] = ContextVar("openkms_fence", default=None)

FAILED = "The database failed."
UNAVAILABLE = "The database is not available."
CONFLICT = "A concurrent change conflicted; retry the request."


class SqlUnitOfWork:
    def __init__(self, db: Db, scope_lock: ClauseElement | None = None, writes: bool = False) -> None:
        scopes = Scopes(db, scope_lock)
        self.keys = SqlKeys(db, scopes)
        self.versions = SqlVersions(db)
        self.aliases = SqlAliases(db, scopes)
        self.tags = SqlTags(db)
        self.accounts = SqlAccounts(db)
        self.access_keys = SqlAccessKeys(db, scopes, for_update=writes)
        self.import_tokens = SqlImportTokens(db)
        self.users = SqlUsers(db, scopes)
        self.policies = SqlPolicies(db, scopes)
        self.attachments = SqlAttachments(db, scopes)
        self.console_sessions = SqlConsoleSessions(db)
        self.logon_failures = SqlLogOnFailures(db, scopes)
        self.secrets = SqlSecrets(db, scopes)
        self.app_access = SqlAppAccess(db, scopes)


def vars_of(fence: Fence) -> dict[str, object]:
    return {"lease": fence.lease, "holder": fence.holder, "epoch": fence.epoch}


class SqlStore(ABC):
    """A Store over an engine. Subclasses say how they are opened and how a write begins."""

    # How a write transaction locks a scope (scopes.py); None where the engine serialises writers itself.
    scope_lock: ClauseElement | None
    # The Store port's: True where a call takes microseconds (a file in this process).
    calls_are_brief: bool
    # How "cannot ... the database" reads when it cannot be reached: "open" (a file), "connect to" (a server).
    connect_verb: ClassVar[str]
    # The last statement of a write unit of work, where other nodes learn of changes by it
    # (PostgreSQL: storage/sql/changes.py); None where the engine tells them itself (SQLite).
    bump: ClassVar[ClauseElement | None] = None

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._statements = Statements(engine.dialect)  # shared by subclasses
        driver: Any = engine.dialect.loaded_dbapi
        self._driver_error: type[Exception] = driver.Error
        # PEP 249's IntegrityError: sqlite3.IntegrityError; psycopg.IntegrityError, the base of the
        # UniqueViolation and ForeignKeyViolation that PostgreSQL's refusals raise.
        self._conflict: type[Exception] = driver.IntegrityError
        self._fence_check = fence_check(engine.dialect.name)

    @classmethod
    @abstractmethod
    def from_url(cls, url: str) -> Self:
        """A store on a new engine for ``url``, not yet connected (the factory's table calls it):
        each engine makes its own (SQLite's pragmas, PostgreSQL's pool)."""

    def _begin_write(self, conn: Connection) -> None:
        conn.begin()

    def _is_conflict(self, exc: BaseException) -> bool:
        """A unique or foreign-key violation, raised by the driver or wrapped by SQLAlchemy."""
        return isinstance(exc, self._conflict) or isinstance(getattr(exc, "orig", None), self._conflict)

    @contextmanager
    def _failures(self, message: str) -> Iterator[None]:
        """Nothing foreign crosses the port: driver and SQLAlchemy errors become BackendUnavailable."""
        try:
            yield
        except (SQLAlchemyError, self._driver_error) as exc:
            raise errors.BackendUnavailable(CONFLICT if self._is_conflict(exc) else message) from exc

    def unavailable(self, exc: BaseException, message: str) -> errors.BackendUnavailable | None:
        """What ``_failures`` raises for ``exc`` (None: not the driver's nor SQLAlchemy's)."""
        if not isinstance(exc, SQLAlchemyError | self._driver_error):
            return None
        return errors.BackendUnavailable(CONFLICT if self._is_conflict(exc) else message)

    def request(self) -> AbstractContextManager[None]:
        """The reads of one request: one check for changes, at the first (storage/sql/changes.py)."""
        return changes.request()

    def deferred(self) -> AbstractContextManager[None]:
        """Reads whose check for changes a later nonce claim makes (PostgreSQL); here, none."""
        return nullcontext()

    def stale(self) -> bool:
        """Whether the nonce claim found rows read unchecked in ``deferred`` changed; here never."""
        return False

    def recheck(self) -> bool:
        """Check rows read unchecked now, whether they changed; here every read was checked."""
        return False

    def read(self) -> AbstractContextManager[SqlUnitOfWork]:
        return self._read()

    @contextmanager
    def _read(self) -> Iterator[SqlUnitOfWork]:
        with self._failures(UNAVAILABLE):
            raw = blocking(self.engine.raw_connection)
        try:
            with self._failures(FAILED):
                yield SqlUnitOfWork(Db(raw.driver_connection, self._statements))
        finally:
            blocking(raw.close)

    @contextmanager
    def _transaction(self) -> Iterator[Db]:
        """Committed when the block ends normally, rolled back on any exception; errors as raised.
        Each step that waits on the database goes through ``blocking``, as the statements do
        (``Db``): in a request's greenlet on the event loop it runs in a worker thread."""
        conn = blocking(self.engine.connect)
        try:
            self._begin_write(conn)
            try:
                yield Db(conn.connection.driver_connection, self._statements)
            except BaseException:
                blocking(conn.rollback)
                raise
            blocking(conn.commit)
        finally:
            blocking(conn.close)

    @contextmanager
    def write(self) -> Iterator[SqlUnitOfWork]:
        with self._failures(FAILED), self._transaction() as db:
            fence = _FENCE.get()
            if fence is not None and db.one(self._fence_check, **vars_of(fence)) is None:
                raise errors.LeaseLost()
            yield SqlUnitOfWork(db, self.scope_lock, writes=True)
            self._changed(db)
        changes.written(self)

    def _changed(self, db: Db) -> None:
        """Last in a write's transaction: raise the change counter (its lock is held to commit, so
        as briefly as can be)."""
        if self.bump is not None:
            db.run(self.bump)

    @contextmanager
    def fenced(self, fence: Fence) -> Iterator[None]:
        token = _FENCE.set(fence)
        try:
            yield
        finally:
            _FENCE.reset(token)

    def node_value(self, name: str) -> bytes | None:
        return blocking(self._node_value, name)

    def _node_value(self, name: str) -> bytes | None:
        with self._failures(FAILED), self.engine.connect() as conn:
            row = Db(conn.connection.driver_connection, self._statements).one(NODE_VALUE_GET, name=name)
        return None if row is None else bytes(row[0])

    def put_node_value_if_absent(self, name: str, value: bytes) -> bytes:
        try:
            with self._transaction() as db:
                db.run(NODE_VALUE_INSERT, name=name, value=value)
        except (SQLAlchemyError, self._driver_error) as exc:
            if not self._is_conflict(exc):
                raise errors.BackendUnavailable(FAILED) from exc
            stored = self.node_value(name)  # another worker or node stored its value first
            if stored is None:  # pragma: no cover - the row cannot vanish: nothing deletes it
                raise errors.BackendUnavailable(FAILED) from exc
            return stored
        return value

    def set_node_value(self, name: str, value: bytes) -> None:
        with self._failures(FAILED), self._transaction() as db:
            db.run(NODE_VALUE_DELETE, name=name)
            db.run(NODE_VALUE_INSERT, name=name, value=value)

    def erase(self, keep_account_uid: str, then: Callable[[UnitOfWork], None] | None = None) -> None:
        with self._failures(FAILED), self._transaction() as db:
            for statement in ERASE:
                db.run(statement, account=keep_account_uid)
            if then is not None:
                then(SqlUnitOfWork(db, self.scope_lock, writes=True))
            self._changed(db)
        changes.written(self)

    def ping(self) -> None:
        blocking(self._ping)

    def _ping(self) -> None:
        with self._failures(UNAVAILABLE), self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT version_num FROM alembic_version")  # reads the schema, not only the socket

    def close(self) -> None:
        self.engine.dispose()

    dispose = close  # SQLAlchemy's word for it
