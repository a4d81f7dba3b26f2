"""The pytest plugin is registered through the package's ``pytest11`` entry point, and its
fixtures take no name the repository's own tests define (the plugin is loaded in this suite too)."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from openkms.testing import plugin

TESTS = Path(__file__).resolve().parents[1]


def _fixture_names(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Attribute) and target.attr == "fixture":
                    names.add(node.name)
    return names


def test_the_plugin_is_the_packages_pytest11_entry_point() -> None:
    found = [ep for ep in entry_points(group="pytest11") if ep.value == "openkms.testing.plugin"]
    assert [ep.name for ep in found] == ["openkms"]


def test_its_fixtures_clash_with_none_of_the_repositorys(pytestconfig: pytest.Config) -> None:
    ours = _fixture_names(Path(plugin.__file__).read_text())
    assert ours == {"_openkms_server", "openkms", "openkms_client"}
    theirs: set[str] = set()
    for path in TESTS.rglob("*.py"):
        theirs |= _fixture_names(path.read_text())
    assert ours & theirs == set()
    assert pytestconfig.pluginmanager.has_plugin("openkms")
