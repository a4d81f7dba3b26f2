"""Brings a database to the newest schema with Alembic.

Alembic and its templates are imported only when a migration runs: a database already at the head,
the common start, is told apart with one query, and an empty SQLite database (every first start,
every ``serve --dev``) is made from the declared metadata in one step. That keeps Alembic's import,
about a fifth of a start's CPU, off the path of a server that only has to open its store.

Several nodes may start at once on one PostgreSQL database: one migrates while the others wait on
an advisory lock (held on the migrating connection, per schema), then find the schema current. A
node whose code is older than the database's schema (another node, upgraded first, migrated it)
refuses to start rather than run on tables it does not know.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Connection, Engine, MetaData, PrimaryKeyConstraint, String, Table, inspect, select

from openkms.storage import schema

if TYPE_CHECKING:
    from alembic.config import Config

_SCRIPTS = Path(__file__).parent / "migrations"
# Alembic's own bookkeeping table, declared as Alembic makes it, so that a database made from the
# metadata is one Alembic recognises and later migrates like any other.
_VERSION_TABLE = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


# Per schema, so that databases sharing a server (tests' schemas) do not queue on each other.
_LOCK_KEY = "hashtext('openkms.migrate:' || current_schema())"


class SchemaTooNew(Exception):
    """The database's schema is at a revision this code does not know: newer code migrated it."""

    def __init__(self, current: str, head: str) -> None:
        super().__init__(
            f"the database schema is at revision {current}, newer than this openkms knows (its newest is {head}): "
            "a node with newer code has upgraded it; upgrade openkms on this node before starting it"
        )


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def upgrade(engine: Engine) -> None:
    """The database at the head revision, by the cheapest way that gives the same schema. Raises
    SchemaTooNew when the database is ahead of this code."""
    current = current_revision(engine)
    head = head_revision()
    check_known(current)
    if current == head:
        return
    if current is None and engine.dialect.name == "sqlite" and not inspect(engine).get_table_names():
        create_at_head(engine)
        return
    run_migrations(engine)


def run_migrations(engine: Engine) -> None:
    """Every migration from the database's revision to the head, through Alembic."""
    from alembic import command

    cfg = _config()
    with engine.connect() as conn, _migration_lock(conn):
        # Under the lock: another node may have migrated while this one waited.
        check_known(conn.execute(select(_VERSION_TABLE.c.version_num)).scalar() if _has_version(conn) else None)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


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


def check_known(current: str | None) -> None:
    """A revision none of this code's migrations names was made by newer code."""
    if current is not None and current not in _revisions():
        raise SchemaTooNew(current, head_revision())


def create_at_head(engine: Engine) -> None:
    """An empty database made at the head in one transaction: the declared tables and Alembic's mark.

    tests/unit/storage/test_migrations.py holds this equal, table by table, to what the migrations make.
    """
    with engine.begin() as conn:
        # The database has no table (upgrade looked): no "does it exist" query for each of them.
        schema.metadata.create_all(conn, checkfirst=False)
        _VERSION_TABLE.create(conn, checkfirst=False)
        conn.execute(_VERSION_TABLE.insert().values(version_num=head_revision()))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not _has_version(conn):
            return None
        return conn.execute(select(_VERSION_TABLE.c.version_num)).scalar()


def _has_version(conn: Connection) -> bool:
    return inspect(conn).has_table(_VERSION_TABLE.name)


def head_revision() -> str:
    """The newest revision, read from the file names: revisions are numbered ``NNNN`` on one line
    (test_migrations holds the files, their ids and Alembic's own view of the head equal)."""
    return max(_revisions())


def _revisions() -> set[str]:
    return {path.name[:4] for path in (_SCRIPTS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")}
