"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.inproc import Inproc, inproc_runtime


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Inproc]:
    """A real runtime on a fresh SQLite store, its clocks under the test's hand (a module may
    define its own ``rt`` with other settings)."""
    with inproc_runtime(tmp_path / "data") as runtime:
        yield runtime
