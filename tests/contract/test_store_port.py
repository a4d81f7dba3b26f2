"""The Store port beyond units of work (domain/ports.py): node values and the health check, on
every adapter (see tests/stores.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openkms.domain import errors
from openkms.storage.factory import open_store
from openkms.storage.sql import SqlStore


def _second_node(store: SqlStore) -> SqlStore:
    return open_store(store.engine.url.render_as_string(hide_password=False), Path("unused"), run_migrations=False)


def test_a_node_value_is_stored_once(store: SqlStore) -> None:
    assert store.node_value("check") is None
    assert store.put_node_value_if_absent("check", b"first\x00") == b"first\x00"
    assert store.put_node_value_if_absent("check", b"second") == b"first\x00"
    stored = store.node_value("check")
    assert stored == b"first\x00"
    assert type(stored) is bytes
    assert store.node_value("other") is None


def test_the_first_node_to_store_a_value_wins(store: SqlStore) -> None:
    other = _second_node(store)
    try:
        assert other.put_node_value_if_absent("console-session-key", b"theirs") == b"theirs"
        assert store.put_node_value_if_absent("console-session-key", b"mine") == b"theirs"
        assert store.node_value("console-session-key") == b"theirs"
    finally:
        other.close()


def test_ping_reads_the_schema(store: SqlStore) -> None:
    store.ping()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE alembic_version")
    with pytest.raises(errors.BackendUnavailable, match="The database is not available") as caught:
        store.ping()
    assert isinstance(caught.value.__cause__, Exception)


def test_only_an_embedded_database_is_called_on_the_event_loop(store: SqlStore) -> None:
    assert store.calls_are_brief is (store.engine.dialect.name == "sqlite")
