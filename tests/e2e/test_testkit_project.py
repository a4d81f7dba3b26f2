"""The plugin as a user's project meets it: README's example, run by pytest in a directory of its
own, with the server in a thread (the default) and as a process."""

from __future__ import annotations

import os
import re
import shutil
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


NODE_EXAMPLE = README.parent / "examples" / "node-envelope"
_NODE, _NPM = shutil.which("node"), shutil.which("npm")


@pytest.mark.skipif(
    _NODE is None or _NPM is None,
    reason="node and npm are not on PATH (Debian: apt-get install nodejs npm; scripts/test installs them)",
)
def test_the_node_example_projects_tests_pass() -> None:
    """The Node.js example (``@alicloud/kms20160120`` against ``openkms serve --dev``, the clock
    and faults moved by the CLI and the control API): its locked dependencies from the npm
    registry, then its own tests, which start the ``openkms`` of this environment."""
    assert _NPM is not None
    env = clean_env({"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    installed = subprocess.run(
        [_NPM, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
        cwd=NODE_EXAMPLE,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    done = subprocess.run(
        [_NPM, "test"], cwd=NODE_EXAMPLE, capture_output=True, text=True, env=env, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # node --test's summary: "# pass 7" (TAP, when not on a terminal) or "\N{INFORMATION SOURCE} pass 7" (spec);
    # some Node versions count the describe block as one more
    passed = re.search(r"^(?:#|\N{INFORMATION SOURCE}) pass (\d+)$", done.stdout, re.MULTILINE)
    assert passed is not None, done.stdout
    assert int(passed.group(1)) >= 7, done.stdout
    assert re.search(r"^(?:#|\N{INFORMATION SOURCE}) fail 0$", done.stdout, re.MULTILINE), done.stdout
