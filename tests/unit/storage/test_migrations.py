"""Alembic migrations: a fresh database reaches head, and the migrated schema is exactly the
one storage/schema.py declares (autogenerate's compare_metadata finds no difference)."""

from __future__ import annotations

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
