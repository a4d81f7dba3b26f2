"""Alembic migrations: a fresh database reaches head, the migrated schema is exactly the one
storage/schema.py declares (autogenerate's compare_metadata finds no difference), and an empty
SQLite database made from that metadata in one step is the migrated one, table by table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, inspect

from openkms.storage import migrate, schema
from tests.stores import ADAPTERS, open_adapter


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
    with open_adapter(adapter, tmp_path, run_migrations=False) as store:
        migrate.run_migrations(store.engine)  # the migrations themselves, not the one-step shortcut
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


def test_the_head_read_from_file_names_is_alembics() -> None:
    scripts = ScriptDirectory.from_config(migrate._config())
    assert migrate.head_revision() == scripts.get_current_head()
    for rev in scripts.walk_revisions("base", "heads"):
        assert Path(rev.path).name.startswith(f"{rev.revision}_")


def _described(engine: Engine) -> dict[str, Any]:
    """Everything the inspector reads of each table, in an order that does not depend on history
    (a migration appends its columns; create_all writes them in declared order)."""
    seen = inspect(engine)
    described: dict[str, Any] = {}
    for table in seen.get_table_names():
        columns = {c["name"]: (str(c["type"]), c["nullable"], c["default"]) for c in seen.get_columns(table)}
        indexes = sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in seen.get_indexes(table))
        foreign = sorted(
            (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
            for f in seen.get_foreign_keys(table)
        )
        uniques = sorted(tuple(u["column_names"]) for u in seen.get_unique_constraints(table))
        checks = sorted(c["sqltext"] for c in seen.get_check_constraints(table))
        key = seen.get_pk_constraint(table)["constrained_columns"]
        described[table] = (columns, indexes, foreign, uniques, checks, key)
    return described


def test_an_empty_sqlite_database_made_at_head_is_the_migrated_one(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with open_adapter("sqlite", tmp_path / "a", run_migrations=False) as migrated:
        migrate.run_migrations(migrated.engine)
        with open_adapter("sqlite", tmp_path / "b", run_migrations=False) as made:
            migrate.create_at_head(made.engine)
            assert _described(made.engine) == _described(migrated.engine)
            assert migrate.current_revision(made.engine) == migrate.current_revision(migrated.engine)
            assert _diffs(made.engine, schema.metadata) == []


def test_the_comparison_of_made_and_migrated_would_see_a_difference(tmp_path: Path) -> None:
    with open_adapter("sqlite", tmp_path, run_migrations=False) as store:
        migrate.create_at_head(store.engine)
        before = _described(store.engine)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("CREATE INDEX not_declared ON keys (description)")
        assert _described(store.engine) != before


@pytest.mark.parametrize("starts", [1, 2])
def test_opening_a_sqlite_store_imports_no_alembic(tmp_path: Path, starts: int) -> None:
    """An empty database and one already at the head are opened without Alembic's import."""
    program = (
        "import sys; from pathlib import Path; from openkms.storage.factory import open_store\n"
        f"for _ in range({starts}): open_store(None, Path({str(tmp_path / 'db.sqlite3')!r})).dispose()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n"


def test_a_database_behind_the_head_is_migrated_by_alembic(tmp_path: Path) -> None:
    with open_adapter("sqlite", tmp_path, run_migrations=False) as store:
        from alembic import command

        config = migrate._config()
        with store.engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0007")
            conn.commit()
        assert migrate.current_revision(store.engine) == "0007"
        migrate.upgrade(store.engine)
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        assert _diffs(store.engine, schema.metadata) == []
