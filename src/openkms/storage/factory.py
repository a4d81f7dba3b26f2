"""Builds the configured store: embedded SQLite by default, or PostgreSQL; the URL's scheme picks it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from openkms.storage import migrate
from openkms.storage.sql import SqlStore
from openkms.storage.sqlite import SqliteStore, sqlite_url


def _postgres() -> type[SqlStore]:
    # Imported for a PostgreSQL URL only: its dialect's modules are no part of a SQLite start.
    from openkms.storage.postgres import PostgresStore

    return PostgresStore


# The store for each URL scheme (the dialect's name, before any "+driver": postgresql+psycopg),
# given by a function that imports it.
STORES: dict[str, Callable[[], type[SqlStore]]] = {"sqlite": lambda: SqliteStore, "postgresql": _postgres}
# The longest driver message passed on: the first line says what failed, the rest is advice.
_MAX_REASON = 300


class StoreOpenError(Exception):
    """The database cannot be opened. The message names it without its password and is one line."""


class InvalidDatabaseUrl(StoreOpenError):
    """The URL cannot be parsed: it is not shown, as its password could not be told apart."""


def open_store(database_url: str | None, sqlite_path: Path, run_migrations: bool = True) -> SqlStore:
    """Raises StoreOpenError when the database cannot be opened or reached."""
    url_text = database_url or sqlite_url(sqlite_path)
    try:
        url = make_url(url_text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise InvalidDatabaseUrl("expected dialect+driver://user:password@host:port/database") from None
    shown = url.set(query={}).render_as_string(hide_password=True)  # the query may carry a password too
    store_class = STORES.get(url.get_backend_name())
    if store_class is None:
        raise StoreOpenError(f"no database driver for {shown}: openkms stores its data in {' or '.join(STORES)}")
    try:
        store = store_class().from_url(url_text)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreOpenError(f"no database driver for {shown}: {_first_line(exc)}") from None
    try:
        # Connect once here, so that an unreachable database is one message, not a migration's traceback.
        with store.engine.connect():
            pass
    except DBAPIError as exc:
        store.close()
        raise StoreOpenError(f"cannot {store.connect_verb} the database {shown}: {_reason(exc.orig, url)}") from None
    if run_migrations:
        try:
            migrate.upgrade(store.engine)
        except migrate.SchemaTooNew as exc:
            store.close()
            raise StoreOpenError(str(exc)) from None
    return store


def is_postgres(database_url: str) -> bool:
    """Whether the URL names a PostgreSQL database (the nodes of a cluster share one)."""
    try:
        return make_url(database_url).get_backend_name() == "postgresql"
    except (ArgumentError, ValueError):
        return False  # open_store says what is wrong with it


def _first_line(exc: BaseException | None) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0].strip() if lines else type(exc).__name__)[:_MAX_REASON]


def _reason(exc: BaseException | None, url: URL) -> str:
    """The first line of a driver's message, without the URL's password should the driver echo it."""
    reason = _first_line(exc)
    return reason.replace(str(url.password), "***") if url.password else reason
