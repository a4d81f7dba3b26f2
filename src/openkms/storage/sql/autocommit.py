"""One statement, one transaction, one round trip: PostgreSQL's nonce claims and change checks.

Their pools run in autocommit and skip SQLAlchemy's ping before each use (it would be a second
round trip per request). A connection the server dropped (a restart) is told by the statement's
own failure: it is never used again, and the statement is tried once more on a new connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from openkms.domain import errors
from openkms.offload import blocking


class AutocommitStatements:
    def __init__(self, engine: Engine, unavailable: str) -> None:
        self._engine = engine
        self._unavailable = unavailable  # the BackendUnavailable message: what could not be reached
        driver: Any = engine.dialect.loaded_dbapi
        self._driver_error: type[Exception] = driver.Error
        self._disconnect: type[Exception] = driver.OperationalError

    def run(self, sql: str, params: dict[str, Any] | None = None, fetch: bool = True) -> list[Any]:
        """The statement's rows (none unless ``fetch``); BackendUnavailable if it cannot be run.
        In a request's greenlet on the event loop, run in a worker thread (openkms/offload.py)."""
        return blocking(self._run, sql, params, fetch)

    def _run(self, sql: str, params: dict[str, Any] | None, fetch: bool) -> list[Any]:
        for attempt in (1, 2):
            try:
                raw = self._engine.raw_connection()
            except Exception as exc:  # SQLAlchemy wraps the driver's refusal to connect
                raise errors.BackendUnavailable(self._unavailable) from exc
            try:
                with raw.driver_connection.cursor() as cur:  # type: ignore[union-attr]
                    cur.execute(sql, params)
                    return list(cur.fetchall()) if fetch else []
            except self._disconnect as exc:
                raw.invalidate()
                if attempt == 2:
                    raise errors.BackendUnavailable(self._unavailable) from exc
            except self._driver_error as exc:
                raise errors.BackendUnavailable(self._unavailable) from exc
            finally:
                raw.close()
        raise AssertionError("unreachable")  # pragma: no cover
