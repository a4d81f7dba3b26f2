"""The house's size rules, checked: no module under src/ over 600 lines, no function over 60.

Migrations are history (a migration is never edited once released), so they are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "openkms"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
EXEMPT = ("storage/migrations/",)


def _modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if not any(part in p.as_posix() for part in EXEMPT)]


def test_the_walk_finds_the_package() -> None:
    assert len(_modules()) > 100


def test_no_module_is_over_600_lines() -> None:
    long = {p.relative_to(SRC).as_posix(): n for p in _modules() if (n := p.read_text().count("\n")) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_over_60_lines() -> None:
    long: dict[str, int] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(SRC).as_posix()}:{node.lineno} {node.name}"] = length
    assert long == {}
