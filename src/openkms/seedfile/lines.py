"""Where in a TOML file each table and value of its document is: for messages that name a line.

``tomllib`` gives values without positions, and a JSON Schema validator names a path in the
document (``keys/2/versions/0/material_hex``). This scans the text for table headers
(``[[keys]]``, ``[[keys.versions]]``, ``[table]``) and ``name =`` lines, and maps the path of each
to its line; a path with no line of its own is told at its nearest enclosing one. Values written
inline (``keys = [{...}]``) are told at the line of their name.
"""

from __future__ import annotations

import re

from openkms.domain.seed import Path

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=")


def _dotted(name: str) -> list[str]:
    return [part.strip().strip("\"'") for part in name.split(".")]


def line_map(text: str) -> dict[Path, int]:
    """Each table's and value's path to its (1-based) line."""
    lines: dict[Path, int] = {}
    counts: dict[Path, int] = {}  # how many entries each array of tables has so far
    current: Path = ()
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
            was, in_multiline = in_multiline, not in_multiline
            if was:
                continue
        elif in_multiline:
            continue
        header = _HEADER.match(line)
        if header and not in_multiline:
            array = header.group(1) == "[["
            current = _header_path(array, _dotted(header.group(2)), counts)
            lines.setdefault(current, number)
            if array:  # the array itself: at its first entry
                lines.setdefault(current[:-1], number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            lines.setdefault((*current, assign.group(1).strip('"')), number)
    return lines


def _header_path(array: bool, names: list[str], counts: dict[Path, int]) -> Path:
    """The path a header opens: each enclosing array of tables at its last entry."""
    path: Path = ()
    for i, name in enumerate(names):
        path = (*path, name)
        last = i == len(names) - 1
        if last and array:
            index = counts.get(path, 0)
            counts[path] = index + 1
            path = (*path, index)
        elif path in counts:
            path = (*path, counts[path] - 1)
    return path


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of ``path``, else of its nearest enclosing table or value; 1 when none has one."""
    for end in range(len(path), -1, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return 1
