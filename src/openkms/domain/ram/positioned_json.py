"""JSON with the position of every value, so a refused policy can name the line of its problem.

The standard library's parser reports positions only for syntax errors; a policy that is valid
JSON but says ``"Effect": "Alow"`` on line 7 must be refused with "line 7" too. Strings are
decoded by the standard library's own ``scanstring``; only the structure is walked here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64  # policies nest four levels; deeper input is refused, never a RecursionError

_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_SPACE = re.compile(r"[ \t\n\r]*")
_LITERALS = {"true": True, "false": False, "null": None}
_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]  # the stdlib's own, C-accelerated


@dataclass(frozen=True, slots=True)
class Node:
    """A value and where it starts. Objects hold ``dict[str, Node]`` (keys are kept with the
    position of their value), arrays ``list[Node]``, scalars their Python value."""

    value: Any
    pos: int


class JsonError(ValueError):
    def __init__(self, message: str, text: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line_of(text, pos)


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def parse(text: str) -> Node:
    parser = _Parser(text)
    node = parser.value(parser.skip(0), 0)
    end = parser.skip(parser.end)
    if end != len(text):
        raise JsonError("unexpected text after the document", text, end)
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.end = 0

    def skip(self, pos: int) -> int:
        match = _SPACE.match(self.text, pos)
        assert match is not None  # the pattern matches the empty string
        return match.end()

    def fail(self, message: str, pos: int) -> JsonError:
        return JsonError(message, self.text, pos)

    def value(self, pos: int, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise self.fail("the document nests too deeply", pos)
        char = self.text[pos : pos + 1]
        if char == "{":
            return self.object(pos, depth)
        if char == "[":
            return self.array(pos, depth)
        if char == '"':
            return Node(self.string(pos), pos)
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, pos):
                self.end = pos + len(word)
                return Node(literal, pos)
        match = _NUMBER.match(self.text, pos)
        if match is None:
            raise self.fail("a value was expected here", pos)
        self.end = match.end()
        number = match.group()
        return Node(float(number) if any(c in number for c in ".eE") else int(number), pos)

    def string(self, pos: int) -> str:
        try:
            decoded, self.end = _scanstring(self.text, pos + 1, True)
        except json.JSONDecodeError as exc:
            raise self.fail(exc.msg.lower(), exc.pos) from None
        return str(decoded)

    def object(self, start: int, depth: int) -> Node:
        members: dict[str, Node] = {}
        pos = self.skip(start + 1)
        if self.text.startswith("}", pos):
            self.end = pos + 1
            return Node(members, start)
        while True:
            if not self.text.startswith('"', pos):
                raise self.fail("a quoted member name was expected here", pos)
            name = self.string(pos)
            if name in members:
                raise self.fail(f'"{name}" appears twice in one object', pos)
            pos = self.skip(self.end)
            if not self.text.startswith(":", pos):
                raise self.fail("':' was expected here", pos)
            members[name] = self.value(self.skip(pos + 1), depth + 1)
            pos = self.skip(self.end)
            if self.text.startswith("}", pos):
                self.end = pos + 1
                return Node(members, start)
            if not self.text.startswith(",", pos):
                raise self.fail("',' or '}' was expected here", pos)
            pos = self.skip(pos + 1)

    def array(self, start: int, depth: int) -> Node:
        items: list[Node] = []
        pos = self.skip(start + 1)
        if self.text.startswith("]", pos):
            self.end = pos + 1
            return Node(items, start)
        while True:
            items.append(self.value(pos, depth + 1))
            pos = self.skip(self.end)
            if self.text.startswith("]", pos):
                self.end = pos + 1
                return Node(items, start)
            if not self.text.startswith(",", pos):
                raise self.fail("',' or ']' was expected here", pos)
            pos = self.skip(pos + 1)
