"""README.md's configuration section, written from the settings' rows (``openkms.settings``).

``scripts/settings-doc`` rewrites the section between the markers; ``--check`` only says whether it
is up to date (``tests/unit/test_settings_doc.py`` fails while it is not).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from dataclasses import MISSING
from pathlib import Path

from openkms.settings import ENTRY_LISTS, OPTIONS
from openkms.settings_options import Option, literal

BEGIN = "<!-- settings-doc: begin -->"
NOTE = "<!-- Written by scripts/settings-doc from the table in src/openkms/settings.py: edit there. -->"
END = "<!-- settings-doc: end -->"
README = Path(__file__).resolve().parents[2] / "README.md"


def variables_table() -> list[str]:
    lines = ["| Variable | In the file | Default | Meaning |", "|---|---|---|---|"]
    for row in OPTIONS:
        where = f"`[{row.table}] {row.key}`" if row.table else "never (a secret)" if row.secret else "—"
        default = "" if row.default is None else f"`{literal(row.default)}`"
        lines.append(f"| `{row.env}` | {where} | {default} | {row.doc} |")
    return lines


def _aligned(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """``setting  # comment`` lines, the comments of a block in one column."""
    pairs = list(pairs)
    width = max(len(setting) for setting, _ in pairs) + 2
    return [f"{setting.ljust(width)}# {comment}" for setting, comment in pairs]


def _assignment(row: Option) -> str:
    """``key = value``; commented out where there is no default to show (the example's value)."""
    if row.default is None or row.default is MISSING:
        return f"# {row.key} = {literal(row.example)}"
    return f"{row.key} = {literal(row.default)}"


def _entries(name: str, doc: str, rows: tuple[Option, ...]) -> list[str]:
    pairs = [(f"# [[{name}]]", doc)]
    shown = (row.example if row.example is not None else row.default for row in rows)
    pairs += [(f"# {row.key} = {literal(value)}", row.doc) for row, value in zip(rows, shown, strict=True)]
    return ["", *_aligned(pairs)]


def toml_example() -> list[str]:
    """Every option of the file at its default, table by table; each list after its parent table."""
    tables = list(dict.fromkeys(row.table for row in OPTIONS if row.table))
    lines: list[str] = []
    for table in tables:
        rows = [row for row in OPTIONS if row.table == table]
        lines += ["", f"[{table}]", *_aligned((_assignment(row), row.doc) for row in rows)]
        for name, doc, entry_rows in ENTRY_LISTS:
            if name.rpartition(".")[0] == table:
                lines += _entries(name, doc, entry_rows)
    for name, doc, entry_rows in ENTRY_LISTS:
        if "." not in name:
            lines += _entries(name, doc, entry_rows)
    return ["```toml", *lines[1:], "```"]


def section() -> str:
    return "\n".join([BEGIN, NOTE, "", *variables_table(), "", *toml_example(), END])


def update(readme: str) -> str:
    """``readme`` with the section between the markers written afresh."""
    head, begin, rest = readme.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not (begin and end):
        raise ValueError(f"README.md has no {BEGIN!r} ... {END!r} markers")
    return head + section() + tail


def main(argv: list[str]) -> int:
    if argv[1:] not in ([], ["--check"]):
        print("usage: scripts/settings-doc [--check]", file=sys.stderr)
        return 2
    readme = README.read_text()
    written = update(readme)
    if written == readme:
        return 0
    if argv[1:] == ["--check"]:
        diff = difflib.unified_diff(readme.splitlines(True), written.splitlines(True), "README.md", "written")
        sys.stdout.writelines(diff)
        print("README.md's configuration section is out of date: run scripts/settings-doc")
        return 1
    README.write_text(written)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
