"""``openkms serve`` imports the server with the cyclic collector off, then freezes what it made;
no other command does (a frozen cycle of garbage is never collected)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from openkms.cli import collector


@pytest.fixture
def collecting() -> Iterator[None]:
    assert gc.isenabled()
    yield
    gc.enable()  # whatever a failed test left (conftest unfreezes)


def test_off_inside_then_frozen_and_on_again(collecting: None) -> None:
    with collector.frozen_after():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_on_again_and_nothing_frozen_after_an_error(collecting: None) -> None:
    with pytest.raises(ValueError), collector.frozen_after():
        raise ValueError
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_left_off_when_it_was_off(collecting: None) -> None:
    gc.disable()
    with collector.frozen_after():
        pass
    assert not gc.isenabled()


_PARSE = """
import gc, sys
import openkms.cli.main
assert "openkms.bootstrap" not in sys.modules, "the server's modules are imported with cli/main.py"
before = [generation["collections"] for generation in gc.get_stats()]
openkms.cli.main.parse({argv!r})
assert "openkms.bootstrap" in sys.modules
after = [generation["collections"] for generation in gc.get_stats()]
print(sum(after) - sum(before), gc.get_freeze_count() > 0, gc.isenabled())
"""


def _parsed(argv: list[str]) -> list[str]:
    """In a process of its own: collections and freezing are the process's."""
    program = _PARSE.format(argv=argv)
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout.split()


def test_serve_imports_the_server_without_a_collection_and_freezes_it() -> None:
    collections, frozen, enabled = _parsed(["serve", "--dev"])
    # Unpaused, the imports set off over a hundred; paused, at most the one the pause's own
    # objects may set off before it begins.
    assert int(collections) <= 1
    assert (frozen, enabled) == ("True", "True")


def test_another_command_freezes_nothing() -> None:
    _, frozen, enabled = _parsed(["accesskey", "list"])
    assert (frozen, enabled) == ("False", "True")
