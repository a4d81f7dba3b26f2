"""Alembic migrations: a fresh database reaches head, and the migrated schema is exactly the
one storage/schema.py declares (autogenerate's compare_metadata finds no difference)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, create_engine, inspect, text

from openkms.storage import migrate, schema
from openkms.storage.factory import StoreOpenError, open_store
from tests.stores import ADAPTERS, POSTGRES_ENV, POSTGRES_URL, database_url, open_adapter


def _diffs(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, metadata))


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_fresh_database_reaches_head(adapter: str, tmp_path: Path) -> None:
    with open_adapter(adapter, tmp_path, run_migrations=False) as store:
        assert migrate.current_revision(store.engine) is None
        migrate.upgrade(store.engine)
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        tables = set(inspect(store.engine).get_table_names())
        assert set(schema.metadata.tables) <= tables
        migrate.upgrade(store.engine)  # a second start changes nothing
        assert migrate.current_revision(store.engine) == migrate.head_revision()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_migrated_schema_matches_the_declared_metadata(adapter: str, tmp_path: Path) -> None:
    with open_adapter(adapter, tmp_path) as store:
        assert _diffs(store.engine, schema.metadata) == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_comparison_would_see_a_difference(adapter: str, tmp_path: Path) -> None:
    """The empty diff above means something: a column the migrations never made is reported."""
    drifted = MetaData()
    for table in schema.metadata.tables.values():
        copy = table.to_metadata(drifted)
        if table.name == "keys":
            copy.append_column(Column("not_migrated", Integer))
    with open_adapter(adapter, tmp_path) as store:
        diffs = _diffs(store.engine, drifted)
    assert [(d[0], d[3].name) for d in diffs] == [("add_column", "not_migrated")]


def test_revisions_form_one_line_from_base_to_head() -> None:
    scripts = ScriptDirectory.from_config(migrate._config())
    assert len(scripts.get_heads()) == 1
    chain = [rev.revision for rev in scripts.walk_revisions("base", "heads")]
    assert chain[0] == migrate.head_revision()
    assert chain[-1] == "0001"
    assert len(chain) == len(set(chain))


FUTURE = "9999"
TOO_NEW = (
    f"the database schema is at revision {FUTURE}, newer than this openkms knows (its newest is "
    f"{migrate.head_revision()}): a node with newer code has upgraded it; "
    "upgrade openkms on this node before starting it"
)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_code_older_than_the_schema_refuses_to_open_it(adapter: str, tmp_path: Path) -> None:
    """A node not yet upgraded, after another node migrated the database to a revision it does not know."""
    with database_url(adapter) as url:
        open_store(url, tmp_path / "openkms.sqlite3").close()
        engine = create_engine(url or f"sqlite:///{tmp_path / 'openkms.sqlite3'}")
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})
        engine.dispose()
        with pytest.raises(StoreOpenError) as err:
            open_store(url, tmp_path / "openkms.sqlite3")
        assert str(err.value) == TOO_NEW


MIGRATE = (
    "import sys; from pathlib import Path; from openkms.storage.factory import open_store; "
    "open_store(sys.argv[1], Path('unused')).close()"
)


@pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")
def test_one_node_migrates_while_the_others_wait(tmp_path: Path) -> None:
    """Nodes started at once on a fresh database: each waits on the migration lock while another
    holds it (here the test holds it), then all find the schema at head."""
    with database_url("postgres") as url:
        assert url is not None
        engine = create_engine(url)
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(hashtext('openkms.migrate:' || current_schema()))"))
            holder.commit()
            nodes = [subprocess.Popen([sys.executable, "-c", MIGRATE, url], cwd=tmp_path) for _ in range(3)]
            _wait_for_waiters(holder, 3, nodes)
            assert [node.poll() for node in nodes] == [None, None, None]  # each waits on the lock
            holder.execute(text("SELECT pg_advisory_unlock(hashtext('openkms.migrate:' || current_schema()))"))
            holder.commit()
            assert [node.wait(120) for node in nodes] == [0, 0, 0]
        assert migrate.current_revision(engine) == migrate.head_revision()
        engine.dispose()


def _wait_for_waiters(conn: Connection, count: int, nodes: list[subprocess.Popen[bytes]]) -> None:
    """Until ``count`` sessions wait for an advisory lock (polling pg_locks: a state, not a timer)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        waiting = conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ).scalar_one()
        conn.commit()
        if waiting >= count:
            return
        assert all(node.poll() is None for node in nodes), "a node finished without waiting for the lock"
        time.sleep(0.05)
    raise AssertionError(f"{count} nodes did not come to wait on the migration lock")
