"""The store for a database URL is picked from one table keyed by the URL's scheme."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import make_url

from openkms.storage.factory import STORES, StoreOpenError, open_store
from openkms.storage.postgres import PostgresStore
from openkms.storage.sqlite import SqliteStore

PASSWORD = "s3cret-Pa55word"


def test_the_scheme_table() -> None:
    assert {name: store_class() for name, store_class in STORES.items()} == {
        "sqlite": SqliteStore,
        "postgresql": PostgresStore,
    }


def test_no_url_is_the_embedded_sqlite_database(tmp_path: Path) -> None:
    store = open_store(None, tmp_path / "openkms.sqlite3")
    try:
        assert type(store) is SqliteStore
        assert store.calls_are_brief
        store.ping()
    finally:
        store.close()


@pytest.mark.parametrize("url", ["sqlite:///{}", "sqlite+pysqlite:///{}"])
def test_a_sqlite_url(tmp_path: Path, url: str) -> None:
    store = open_store(url.format(tmp_path / "other.sqlite3"), tmp_path / "unused.sqlite3")
    try:
        assert type(store) is SqliteStore
        assert (tmp_path / "other.sqlite3").exists()
    finally:
        store.close()


@pytest.mark.parametrize("url", ["postgresql://kms@127.0.0.1/kms", "postgresql+psycopg://kms@127.0.0.1/kms"])
def test_a_postgresql_url_is_the_postgresql_store_whatever_its_driver(url: str) -> None:
    assert STORES[make_url(url).get_backend_name()]() is PostgresStore


def test_the_postgresql_store_waits_on_the_network() -> None:
    store = PostgresStore.from_url("postgresql+psycopg://kms@127.0.0.1/kms")  # not connected yet
    try:
        assert not store.calls_are_brief
    finally:
        store.close()


@pytest.mark.parametrize("scheme", ["nosuchdb", "mysql+pymysql", "oracle"])
def test_a_scheme_without_a_store_is_one_line_without_the_password(tmp_path: Path, scheme: str) -> None:
    with pytest.raises(StoreOpenError) as caught:
        open_store(f"{scheme}://kms:{PASSWORD}@127.0.0.1/kms", tmp_path / "unused.sqlite3")
    message = str(caught.value)
    assert message == (
        f"no database driver for {scheme}://kms:***@127.0.0.1/kms: openkms stores its data in sqlite or postgresql"
    )
    assert not (tmp_path / "unused.sqlite3").exists()
