"""Brings a database to the newest schema with Alembic.

Several nodes may start at once on one PostgreSQL database: one migrates while the others wait on
an advisory lock (held on the migrating connection, per schema), then find the schema current. A
node whose code is older than the database's schema (another node, upgraded first, migrated it)
refuses to start rather than run on tables it does not know.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

_SCRIPTS = Path(__file__).parent / "migrations"
# Per schema, so that databases sharing a server (tests' schemas) do not queue on each other.
_LOCK_KEY = "hashtext('openkms.migrate:' || current_schema())"


class SchemaTooNew(Exception):
    """The database's schema is at a revision this code does not know: newer code migrated it."""

    def __init__(self, current: str, head: str | None) -> None:
        super().__init__(
            f"the database schema is at revision {current}, newer than this openkms knows (its newest is {head}): "
            "a node with newer code has upgraded it; upgrade openkms on this node before starting it"
        )


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


@contextmanager
def _migration_lock(conn: Connection) -> Iterator[None]:
    """One migrating node per PostgreSQL database; the others wait here. (A SQLite file is one
    node's, migrated once before its workers start.)"""
    if conn.dialect.name != "postgresql":
        yield
        return
    conn.exec_driver_sql(f"SELECT pg_advisory_lock({_LOCK_KEY})")
    conn.commit()  # the lock is the session's: it outlives this transaction
    try:
        yield
    finally:
        conn.rollback()
        conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_LOCK_KEY})")
        conn.commit()


def upgrade(engine: Engine) -> None:
    """Raises SchemaTooNew when the database is ahead of this code."""
    cfg = _config()
    with engine.connect() as conn, _migration_lock(conn):
        check_not_newer(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


def check_not_newer(conn: Connection) -> None:
    scripts = ScriptDirectory.from_config(_config())
    current = MigrationContext.configure(conn).get_current_revision()
    if current is None:
        return
    try:
        scripts.get_revision(current)
    except CommandError:
        raise SchemaTooNew(current, scripts.get_current_head()) from None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
