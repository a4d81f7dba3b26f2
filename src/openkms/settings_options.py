"""How a setting is declared, read and checked: one ``Option`` row per setting.

``option()`` declares a field of a settings dataclass together with everything about it: its TOML
table and key, its environment variable, its checks, whether it is secret and what it means;
``options_of`` turns the fields back into rows (their type from the annotation, their default from
the field). ``openkms.settings`` holds the rows, ``openkms.settings_doc`` writes README.md from them.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    pass


def _same(value: Any) -> Any:
    return value


def _boolean(text: str) -> bool:
    words = {"true": True, "1": True, "false": False, "0": False}
    if text.strip().lower() not in words:
        raise ValueError(text)
    return words[text.strip().lower()]


@dataclass(frozen=True)
class Kind:
    """A setting's type as each source gives it: a TOML value in the file, text in the environment."""

    words: str  # how a message about the file names it: "an integer"
    toml: type  # the TOML type the file must give (an integer is also a number)
    parse: Callable[[str], Any]  # an environment variable's text to the value; ValueError if it is none
    name: str  # how a message about the environment names it: "int"
    convert: Callable[[Any], Any] = _same  # the TOML value to the field's

    def from_toml(self, value: Any) -> Any | None:
        """``value`` as the field holds it, or None if the file gave the wrong type."""
        if isinstance(value, bool) and self.toml is not bool:
            return None
        if isinstance(value, self.toml) or (self.toml is float and isinstance(value, int)):
            return self.convert(value)
        return None


INT = Kind("an integer", int, int, "int")
FLOAT = Kind("a number", float, float, "float", float)
STR = Kind("a string", str, str, "str")
BOOL = Kind("true or false", bool, _boolean, "bool")
PATH = Kind("a string", str, Path, "path", Path)
KINDS_BY_TYPE: dict[object, Kind] = {int: INT, float: FLOAT, str: STR, bool: BOOL, Path: PATH}


@dataclass(frozen=True)
class Check:
    """A rule one value must follow, and how a message says it."""

    ok: Callable[[Any], bool]
    rule: str  # "must be positive": follows the option's name in the message


POSITIVE = Check(lambda v: v > 0, "must be positive")


def at_least(low: int) -> Check:
    return Check(lambda v: v >= low, f"must be at least {low}" if low else "cannot be negative")


def at_most(high: int, why: str) -> Check:
    return Check(lambda v: v <= high, f"can be at most {high} ({why})")


def between(low: int, high: int) -> Check:
    return Check(lambda v: low <= v <= high, f"must be between {low} and {high}")


def one_of(*choices: str) -> Check:
    """One of ``choices``, in any case."""
    return Check(lambda v: v.lower() in choices, f"must be one of {', '.join(choices)}")


@dataclass(frozen=True)
class Option:
    """One setting. ``table`` None: the environment only (the file cannot name itself, and secrets
    are never written into it); ``env`` None: the file only (the keys of ``[[...]]`` entries)."""

    name: str  # the dataclass field
    table: str | None  # [table] key in the TOML file
    key: str
    env: str | None
    kind: Kind
    default: Any  # dataclasses.MISSING: an entry must give it
    doc: str  # one line: what it means
    checks: tuple[Check, ...] = ()
    secret: bool = False  # environment only, never shown: not in repr, not in messages
    called: str = ""  # how messages name it, where not "[table] key"
    example: Any = None  # what the README's TOML example shows when there is no default to show

    @property
    def label(self) -> str:
        if self.called:
            return self.called
        return f"[{self.table}] {self.key}" if self.table else str(self.env)

    @property
    def required(self) -> bool:
        return self.default is MISSING

    def read(self, table: Mapping[str, Any]) -> Any:
        """Its value in a TOML table that has its key, if of its type; else a clear error."""
        value = table[self.key]
        converted = self.kind.from_toml(value)
        if converted is None:
            raise SettingsError(f"[{self.table}] {self.key} must be {self.kind.words}, not {value!r}")
        return converted

    def parse(self, text: str) -> Any:
        """Its value from its environment variable's text."""
        try:
            return self.kind.parse(text)
        except ValueError:
            raise SettingsError(f"{self.env} is not a valid {self.kind.name}") from None

    def check(self, value: Any) -> None:
        if value is None:
            return
        for check in self.checks:
            if not check.ok(value):
                shown = "" if self.secret else f", not {value!r}"
                raise SettingsError(f"{self.label} {check.rule}{shown}")


_OPTION = "openkms.option"


def option(
    default: T,
    toml: str | None,
    doc: str,
    *,
    env: str = "",
    check: Check | tuple[Check, ...] = (),
    secret: bool = False,
    called: str = "",
    example: Any = None,
) -> T:
    """A dataclass field that is a setting: ``toml`` is "table.key" (None: not in the file); ``env``
    its environment variable where that is not OPENKMS_<TABLE>_<KEY> (a name that predates the rule)."""
    if toml is None and not env:
        raise ValueError("an option that is not in the file needs its variable (env=)")
    if secret and toml is not None:
        raise ValueError("a secret is never read from the file: give it no [table] key")
    table, _, key = toml.rpartition(".") if toml else (None, "", "")
    row = Option(
        name="",  # the rest is filled in from the field by options_of
        table=table,
        key=key,
        env=env or f"OPENKMS_{table}_{key}".upper().replace(".", "_"),
        kind=STR,
        default=None,
        doc=doc,
        checks=check if isinstance(check, tuple) else (check,),
        secret=secret,
        called=called,
        example=example,
    )
    if default is MISSING:
        return typing.cast(T, field(repr=not secret, metadata={_OPTION: row}))
    return field(default=default, repr=not secret, metadata={_OPTION: row})


def required(toml: str, doc: str, *, example: Any = None) -> Any:
    """A setting that an entry must give: it has no default."""
    return option(MISSING, toml, doc, example=example)


def _kind(hint: Any) -> Kind:
    if isinstance(hint, UnionType):  # "str | None"
        (hint,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
    return KINDS_BY_TYPE[hint]


def options_of(cls: type, *, environment: bool = True) -> tuple[Option, ...]:
    """The rows of a dataclass's settings, in field order (``environment`` False: the keys of a
    ``[[...]]`` entry, which no variable sets)."""
    hints = typing.get_type_hints(cls)
    return tuple(
        replace(
            f.metadata[_OPTION],
            name=f.name,
            kind=_kind(hints[f.name]),
            default=f.default,
            env=f.metadata[_OPTION].env if environment else None,
        )
        for f in fields(cls)
        if _OPTION in f.metadata
    )


def literal(value: Any) -> str:
    """``value`` as TOML writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if any(c in text for c in '"\\') or not text.isprintable():
        raise ValueError(f"write {text!r} into the README by hand")
    return f'"{text}"'


def table_of(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise SettingsError(f"[{name}] must be a table")
    return table


def read_entry(entry: Mapping[str, Any], rows: tuple[Option, ...]) -> dict[str, Any]:
    """An entry of a ``[[...]]`` list: each row's value, or its default where the entry has none."""
    return {row.name: row.read(entry) if row.key in entry else row.default for row in rows}
