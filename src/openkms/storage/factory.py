"""Builds the configured store: embedded SQLite by default, or any SQLAlchemy URL (PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from openkms.storage import migrate
from openkms.storage.sql import SqlStore
from openkms.storage.sqlite import SqliteStore, create_sqlite_engine, sqlite_url


def open_store(database_url: str | None, sqlite_path: Path, run_migrations: bool = True) -> SqlStore:
    if database_url is None or database_url.startswith("sqlite"):
        store: SqlStore = SqliteStore(create_sqlite_engine(database_url or sqlite_url(sqlite_path)))
    else:
        store = SqlStore(create_engine(database_url, pool_size=10, max_overflow=20, pool_pre_ping=True))
    if run_migrations:
        migrate.upgrade(store.engine)
    return store


def blocks_event_loop_briefly(database_url: str | None) -> bool:
    """SQLite calls take microseconds: run them inline. A network database goes to a thread."""
    return database_url is None or database_url.startswith("sqlite")
