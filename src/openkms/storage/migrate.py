"""Brings a database to the newest schema with Alembic.

Alembic and its templates are imported only when a migration runs: a database already at the head,
the common start, is told apart with one query, and an empty SQLite database (every first start,
every ``serve --dev``) is made from the declared metadata in one step. That keeps Alembic's import,
about a fifth of a start's CPU, off the path of a server that only has to open its store.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Column, Engine, MetaData, PrimaryKeyConstraint, String, Table, inspect, select

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


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def upgrade(engine: Engine) -> None:
    """The database at the head revision, by the cheapest way that gives the same schema."""
    current = current_revision(engine)
    head = head_revision()
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
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


def create_at_head(engine: Engine) -> None:
    """An empty database made at the head in one transaction: the declared tables and Alembic's mark.

    tests/unit/storage/test_migrations.py holds this equal, table by table, to what the migrations make.
    """
    with engine.begin() as conn:
        schema.metadata.create_all(conn)
        _VERSION_TABLE.create(conn)
        conn.execute(_VERSION_TABLE.insert().values(version_num=head_revision()))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(_VERSION_TABLE.name):
            return None
        return conn.execute(select(_VERSION_TABLE.c.version_num)).scalar()


def head_revision() -> str:
    """The newest revision, read from the file names: revisions are numbered ``NNNN`` on one line
    (test_migrations holds the files, their ids and Alembic's own view of the head equal)."""
    return max(path.name[:4] for path in (_SCRIPTS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
