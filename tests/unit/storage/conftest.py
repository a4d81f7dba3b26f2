"""Fixtures shared by the storage tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.storage.factory import open_store
from tests.stores import database_url


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database, migrated to the head (for tests skipped without a server)."""
    with database_url("postgres") as url:
        assert url is not None
        open_store(url, tmp_path / "unused.sqlite3").close()
        yield url
