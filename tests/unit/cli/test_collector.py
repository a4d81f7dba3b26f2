"""The cyclic collector is paused while a command imports its modules, and only then."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from openkms.cli import collector
from openkms.cli.main import main


@pytest.fixture
def collecting() -> Iterator[None]:
    assert gc.isenabled()
    yield
    gc.enable()  # whatever a failed test left


def test_paused_inside_and_on_again_after(collecting: None) -> None:
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_on_again_after_an_error(collecting: None) -> None:
    with pytest.raises(ValueError), collector.paused():
        raise ValueError
    assert gc.isenabled()


def test_left_off_when_it_was_off(collecting: None) -> None:
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()


def test_a_command_runs_with_the_collector_on(collecting: None) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert gc.isenabled()


_PARSE = """
import gc, sys
import openkms.cli.main
assert "openkms.bootstrap" not in sys.modules, "the server's modules are imported with cli/main.py"
before = [generation["collections"] for generation in gc.get_stats()]
openkms.cli.main.parse(["serve", "--dev"])
assert "openkms.bootstrap" in sys.modules
after = [generation["collections"] for generation in gc.get_stats()]
print(sum(after) - sum(before), gc.isenabled())
"""


def test_the_server_s_modules_are_imported_without_a_collection() -> None:
    """In a process of its own: the imports' objects would set off collections in any other.
    Unpaused, they set off over a hundred; paused, at most the one the pause's own objects may
    set off before it begins."""
    done = subprocess.run([sys.executable, "-c", _PARSE], capture_output=True, text=True, check=True)
    collections, enabled = done.stdout.split()
    assert int(collections) <= 1
    assert enabled == "True"
