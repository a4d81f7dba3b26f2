"""The read-side memo (storage/sql/db.py ``MemoDb``): a list read remembers its mapped objects until
``forget``, and each reader gets a list of its own."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.dialects import sqlite

from openkms.storage.sql.db import MemoDb, Statements, param

ITEMS = Table("items", MetaData(), Column("owner", String), Column("name", String))
OF_OWNER = select(ITEMS.c.name).where(ITEMS.c.owner == param("owner")).order_by(ITEMS.c.name)


@dataclass(frozen=True, slots=True)
class Item:
    name: str


class Counting:
    """A row mapper that counts the rows it maps."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, row: Sequence[Any]) -> Item:
        self.calls += 1
        return Item(row[0])


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE items (owner TEXT, name TEXT)")
    connection.executemany("INSERT INTO items VALUES (?, ?)", [("a", "x"), ("a", "y"), ("b", "z")])
    yield connection
    connection.close()


def test_a_list_read_again_is_not_mapped_again_until_forgotten(conn: sqlite3.Connection) -> None:
    db, to = MemoDb(conn, Statements(sqlite.dialect())), Counting()
    assert db.all_as(OF_OWNER, to, owner="a") == [Item("x"), Item("y")]
    assert db.all_as(OF_OWNER, to, owner="a") == [Item("x"), Item("y")]
    assert to.calls == 2  # the second read came from the memo
    assert db.all_as(OF_OWNER, to, owner="b") == [Item("z")]  # other parameters: another read
    conn.execute("INSERT INTO items VALUES ('a', 'w')")
    assert db.all_as(OF_OWNER, to, owner="a") == [Item("x"), Item("y")]  # until the owner forgets
    db.forget()
    assert db.all_as(OF_OWNER, to, owner="a") == [Item("w"), Item("x"), Item("y")]


def test_each_reader_gets_a_list_of_its_own(conn: sqlite3.Connection) -> None:
    db, to = MemoDb(conn, Statements(sqlite.dialect())), Counting()
    first = db.all_as(OF_OWNER, to, owner="a")
    first.append(Item("changed by its reader"))
    assert db.all_as(OF_OWNER, to, owner="a") == [Item("x"), Item("y")]
