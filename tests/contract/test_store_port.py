"""The Store port beyond units of work (domain/ports.py): node values, the health check, and how
a failed write is reported, on every adapter (see tests/stores.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from openkms.domain import errors
from openkms.domain.aliases import Alias
from openkms.storage.factory import open_store
from openkms.storage.sql import SqlStore
from tests.contract.test_store_contract import REGION, T0, UID, add_keys, kid, make_key, make_version

CONFLICT = "A concurrent change conflicted; retry the request."


def _second_node(store: SqlStore) -> SqlStore:
    return open_store(store.engine.url.render_as_string(hide_password=False), Path("unused"), run_migrations=False)


def _driver_errors(store: SqlStore) -> dict[str, type[Exception]]:
    """What the driver raises when the database refuses a row: a duplicate key, a missing parent."""
    if store.engine.dialect.name == "sqlite":
        return {"unique": sqlite3.IntegrityError, "foreign key": sqlite3.IntegrityError}
    import psycopg.errors

    return {"unique": psycopg.errors.UniqueViolation, "foreign key": psycopg.errors.ForeignKeyViolation}


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


def test_a_duplicate_row_is_a_conflict_told_by_the_drivers_class(store: SqlStore) -> None:
    add_keys(store, make_key(1))
    with store.write() as uow:
        uow.aliases.add(Alias("alias/a", kid(1), UID, REGION, T0))
    with pytest.raises(errors.BackendUnavailable) as caught, store.write() as uow:
        uow.aliases.add(Alias("alias/a", kid(1), UID, REGION, T0))
    assert caught.value.message.endswith(CONFLICT)
    assert isinstance(caught.value.__cause__, _driver_errors(store)["unique"])


def test_a_row_without_its_parent_is_a_conflict_told_by_the_drivers_class(store: SqlStore) -> None:
    with pytest.raises(errors.BackendUnavailable) as caught, store.write() as uow:
        uow.versions.add(make_version(1, 404))
    assert caught.value.message.endswith(CONFLICT)
    assert isinstance(caught.value.__cause__, _driver_errors(store)["foreign key"])


def test_any_other_driver_error_is_a_failure_whatever_its_name_or_message(store: SqlStore) -> None:
    driver = store.engine.dialect.loaded_dbapi

    class IntegrityError(driver.OperationalError):  # type: ignore[misc, name-defined]
        """Named like a conflict, and not one."""

    for raised in (IntegrityError("UNIQUE constraint failed"), driver.OperationalError("UNIQUE constraint failed")):
        with pytest.raises(errors.BackendUnavailable) as caught, store.write():
            raise raised
        assert caught.value.message.endswith("The database failed.")
        assert caught.value.__cause__ is raised
