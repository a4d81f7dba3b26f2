from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.cli.commands import Cli, clear_openkms_environment


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    """``openkms serve``'s command line freezes the process's objects (cli/collector.py): in a
    test process, which has run other code, they go back to being collected after each test."""
    yield
    gc.unfreeze()


@pytest.fixture(scope="module")
def admin_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for a test module's commands (its first command makes it, as a first start)."""
    return tmp_path_factory.mktemp("admin") / "data"


@pytest.fixture
def cli(admin_data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Runs commands on the module's data directory, with no OPENKMS_* setting from outside."""
    clear_openkms_environment(monkeypatch)
    return Cli(admin_data_dir, capsys)
