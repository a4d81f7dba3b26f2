"""The Store port over a SQLAlchemy engine: the unit of work and its transactions.

Subclasses decide how a write transaction begins (``storage/sqlite.py``); the repositories are the
same for every engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql import ClauseElement

from openkms.domain import errors
from openkms.storage.sql.aliases import SqlAliases
from openkms.storage.sql.db import Db, Statements
from openkms.storage.sql.identity import SqlAccessKeys, SqlAccounts
from openkms.storage.sql.keys import SqlKeys
from openkms.storage.sql.scopes import POSTGRES_SCOPE_LOCK, Scopes
from openkms.storage.sql.tags import SqlTags
from openkms.storage.sql.tokens import SqlImportTokens
from openkms.storage.sql.versions import SqlVersions


class SqlUnitOfWork:
    def __init__(self, db: Db, scope_lock: ClauseElement | None = None, writes: bool = False) -> None:
        scopes = Scopes(db, scope_lock)
        self.keys = SqlKeys(db, scopes)
        self.versions = SqlVersions(db)
        self.aliases = SqlAliases(db, scopes)
        self.tags = SqlTags(db)
        self.accounts = SqlAccounts(db)
        self.access_keys = SqlAccessKeys(db, for_update=writes)
        self.import_tokens = SqlImportTokens(db)


def _is_conflict(exc: BaseException) -> bool:
    """A unique or primary-key violation, whatever the driver calls it."""
    name = type(exc).__name__
    return name in ("IntegrityError", "UniqueViolation") or "UNIQUE constraint" in str(exc)


class SqlStore:
    """A Store over an engine. Subclasses decide how a write transaction begins."""

    # How a write transaction locks a scope; None where the engine serialises writers itself.
    scope_lock: ClauseElement | None = POSTGRES_SCOPE_LOCK

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._statements = Statements(engine.dialect)  # shared by subclasses
        self._driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    def _begin_write(self, conn: Connection) -> None:
        conn.begin()

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        try:
            raw = self.engine.raw_connection()
        except (SQLAlchemyError, self._driver_error) as exc:
            raise errors.BackendUnavailable("The database is not available.") from exc
        try:
            yield SqlUnitOfWork(Db(raw.driver_connection, self._statements))
        except self._driver_error as exc:
            raise errors.BackendUnavailable("The database failed.") from exc
        finally:
            raw.close()

    @contextmanager
    def write(self) -> Iterator[SqlUnitOfWork]:
        try:
            with self.engine.connect() as conn:
                self._begin_write(conn)
                try:
                    db = Db(conn.connection.driver_connection, self._statements)
                    yield SqlUnitOfWork(db, self.scope_lock, writes=True)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
        except errors.KmsError:
            raise
        except (SQLAlchemyError, self._driver_error) as exc:
            orig = exc.orig if isinstance(exc, DBAPIError) else None
            if _is_conflict(exc) or (orig is not None and _is_conflict(orig)):
                raise errors.BackendUnavailable("A concurrent change conflicted; retry the request.") from exc
            raise errors.BackendUnavailable("The database failed.") from exc

    def ping(self) -> None:
        """Raises unless the database answers a query (the health check)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT version_num FROM alembic_version")  # reads the schema, not only the socket

    def dispose(self) -> None:
        self.engine.dispose()
