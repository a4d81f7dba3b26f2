"""The plugin as a user's project meets it: README's example, run by pytest in a directory of its
own, with the server in a thread (the default) and as a process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import clean_env

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## Testing with openkms", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1).replace("    ...\n", "    assert len(openkms.faults.list()) == 1\n")


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_readmes_example_passes_in_a_project_of_its_own(tmp_path: Path, mode: str) -> None:
    (tmp_path / "test_example.py").write_text(readme_example())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--openkms-mode", mode],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_example_projects_tests_pass() -> None:
    example = README.parent / "examples" / "envelope"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=example,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
