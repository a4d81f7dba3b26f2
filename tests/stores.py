"""The store adapters the contract and storage tests run against.

SQLite always. PostgreSQL when OPENKMS_TEST_POSTGRES_URL names a server, for example
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` (the psycopg driver must be installed):
each test gets its own schema there, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from openkms.storage.factory import open_store
from openkms.storage.sql import SqlStore

POSTGRES_ENV = "OPENKMS_TEST_POSTGRES_URL"
POSTGRES_URL = os.environ.get(POSTGRES_ENV, "")

ADAPTERS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test"),
    ),
]


@contextmanager
def _postgres_schema() -> Iterator[str]:
    schema = f"openkms_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database_url(adapter: str) -> Iterator[str | None]:
    """The ``database_url`` setting for an empty database of this adapter (None: embedded SQLite)."""
    if adapter == "sqlite":
        yield None
    else:
        with _postgres_schema() as url:
            yield url


@contextmanager
def open_adapter(adapter: str, tmp_path: Path, run_migrations: bool = True) -> Iterator[SqlStore]:
    """A store built by the real factory (storage/factory.py) on a fresh, migrated database."""
    with database_url(adapter) as url:
        store = open_store(url, tmp_path / "openkms.sqlite3", run_migrations=run_migrations)
        try:
            yield store
        finally:
            store.dispose()


def run_sql(url: str, statement: str) -> list[tuple[object, ...]]:
    """One statement on its own autocommit connection (a probe from outside the store)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()
