from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.cli.commands import Cli, clear_openkms_environment


@pytest.fixture(scope="module")
def admin_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data directory for a test module's commands (its first command makes it, as a first start)."""
    return tmp_path_factory.mktemp("admin") / "data"


@pytest.fixture
def cli(admin_data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Runs commands on the module's data directory, with no OPENKMS_* setting from outside."""
    clear_openkms_environment(monkeypatch)
    return Cli(admin_data_dir, capsys)
