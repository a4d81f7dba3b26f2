from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.storage.sql import SqlStore
from tests.stores import ADAPTERS, open_adapter


@pytest.fixture(params=ADAPTERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """Every Store adapter, each on a fresh migrated database built by the real factory."""
    with open_adapter(request.param, tmp_path) as s:
        yield s
