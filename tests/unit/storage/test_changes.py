"""Remembered reads checked once per request (storage/sql/changes.py): two stores on one database
play two nodes (SQLite: two stores on one file; PostgreSQL: two stores on one schema)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import update

from openkms.domain.identity import AccessKey, AccessKeyStatus, Account
from openkms.storage import postgres
from openkms.storage.factory import open_store
from openkms.storage.schema import access_keys
from openkms.storage.sql import SqlStore
from tests.stores import ADAPTERS, database_url

PAIR = AccessKey("LTAIchanges", "1000000000000001", b"sealed", AccessKeyStatus.ENABLED, 1_700_000_000)


@pytest.fixture(params=ADAPTERS)
def nodes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[SqlStore, SqlStore]]:
    with database_url(request.param) as url:
        a = open_store(url, tmp_path / "openkms.sqlite3")
        b = open_store(url, tmp_path / "openkms.sqlite3")
        with b.write() as uow:
            uow.accounts.add(Account(PAIR.account_uid, PAIR.created_at))
            uow.access_keys.add(PAIR)
        try:
            yield a, b
        finally:
            a.dispose()
            b.dispose()


def _status(store: SqlStore) -> AccessKeyStatus:
    with store.read() as uow:
        found = uow.access_keys.get(PAIR.id)
    assert found is not None
    return found.status


def _disable(store: SqlStore) -> None:
    with store.write() as uow:
        uow.access_keys.save(replace(PAIR, status=AccessKeyStatus.DISABLED))


def test_a_change_on_one_node_is_seen_by_the_others_next_read(nodes: tuple[SqlStore, SqlStore]) -> None:
    a, b = nodes
    assert _status(a) is AccessKeyStatus.ENABLED  # now remembered by node a
    assert _status(a) is AccessKeyStatus.ENABLED
    _disable(b)
    assert _status(a) is AccessKeyStatus.DISABLED


def test_a_request_checks_for_changes_once_at_its_first_read(nodes: tuple[SqlStore, SqlStore]) -> None:
    """Reads later in the request use what the first one's check validated; the next request checks."""
    a, b = nodes
    with a.request():
        assert _status(a) is AccessKeyStatus.ENABLED
        _disable(b)
        assert _status(a) is AccessKeyStatus.ENABLED  # not checked again within the request
    with a.request():
        assert _status(a) is AccessKeyStatus.DISABLED


def test_a_request_that_writes_reads_its_own_write(nodes: tuple[SqlStore, SqlStore]) -> None:
    a, _ = nodes
    with a.request():
        assert _status(a) is AccessKeyStatus.ENABLED
        _disable(a)
        assert _status(a) is AccessKeyStatus.DISABLED


# PostgreSQL's only: SQLite tells readers of commits itself (PRAGMA data_version), no counter to race.
@pytest.mark.parametrize("nodes", [ADAPTERS[1]], indirect=True)
def test_a_row_read_between_a_writers_raise_and_its_commit_is_not_kept(nodes: tuple[SqlStore, SqlStore]) -> None:
    """The stale-cache race: node a reads (and remembers) the old row while node b's write has
    raised the counter but not committed; once it commits, node a's next read has the new row."""
    a, b = nodes
    with b.engine.connect() as writer:
        writer.execute(update(access_keys).where(access_keys.c.id == PAIR.id).values(status="Disabled"))
        writer.execute(postgres.BUMP)
        assert _status(a) is AccessKeyStatus.ENABLED  # the write is not committed: the old row
        writer.commit()
    assert _status(a) is AccessKeyStatus.DISABLED


def test_a_negative_answer_is_not_kept_past_the_write_that_adds_the_row(nodes: tuple[SqlStore, SqlStore]) -> None:
    a, b = nodes
    other = replace(PAIR, id="LTAIchangesother")
    with a.read() as uow:
        assert uow.access_keys.get(other.id) is None
    with b.write() as uow:
        uow.access_keys.add(other)
    with a.read() as uow:
        assert uow.access_keys.get(other.id) == other
