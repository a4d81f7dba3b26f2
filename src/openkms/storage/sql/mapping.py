"""Rows to domain objects and back, derived from the frozen dataclass and its table.

A ``Mapper`` reads the dataclass's fields in order (``dataclasses.fields``): each field is the column
of the same name unless ``columns`` renames it, and its value is converted only where the field's
type says the driver's value differs: an enum is stored as its value, ``bytes`` comes back as
``bytes`` (a driver may hand out a buffer), ``bool`` as ``bool`` (SQLite hands out 0 and 1). A
field typed ``X | None`` converts only values that are not None. ``convert`` overrides a field's
conversion (a JSON document, say).

Both directions are compiled once into a plain function (positional constructor call, one dict
display), so that mapping a row costs no more than the hand-written code it replaces: the request
path maps an AccessKey, a key and a version per call (benchmarks/row_mapping.py).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, Table, bindparam

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Convert:
    """How a field's value differs in the row: ``to_row`` before writing (or ``attribute``, an
    attribute of the value read inline, without a call), ``from_row`` after reading.

    None leaves the value as it is. Neither is applied to None.
    """

    to_row: Callable[[Any], Any] | None = None
    from_row: Callable[[Any], Any] | None = None
    attribute: str | None = None

    def __post_init__(self) -> None:
        if self.attribute is not None and not self.attribute.isidentifier():
            raise ValueError(f"not an attribute name: {self.attribute!r}")


def enum_values(cls: type[enum.Enum]) -> Convert:
    """An enum stored as its value (a dict look-up back: faster than calling the enum class)."""
    members = {m.value: m for m in cls}
    return Convert(attribute="value", from_row=members.__getitem__)


BYTES = Convert(from_row=bytes)
BOOL = Convert(from_row=bool)


def _inferred(hint: Any) -> tuple[Convert | None, bool]:
    """(the conversion a field's type asks for, whether the field may be None)."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else Any
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return enum_values(hint), optional
    if hint is bytes:
        return BYTES, optional
    if hint is bool:
        return BOOL, optional
    return None, optional


def _guarded(expression: str, value: str, optional: bool) -> str:
    return f"(None if {value} is None else {expression})" if optional else expression


class Mapper(Generic[T]):
    """One dataclass over one table.

    ``columns``: the mapped columns in field order, for ``select(*mapper.columns)``; a statement
    may select more columns after them (``from_row`` reads only its own positions).
    ``from_row(row)``: the domain object. ``to_params(obj)``: bind parameters named after the
    columns, for statements built with ``values()``.
    """

    def __init__(
        self,
        cls: type[T],
        table: Table,
        columns: Mapping[str, str] | None = None,
        convert: Mapping[str, Convert] | None = None,
    ) -> None:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        if any(not f.init or f.kw_only for f in fields):
            raise TypeError(f"{cls.__name__}: every field must be a positional __init__ argument")
        renamed, overrides = columns or {}, convert or {}
        hints = typing.get_type_hints(cls)
        self.cls = cls
        missing = [f.name for f in fields if renamed.get(f.name, f.name) not in table.c]
        if missing:
            raise KeyError(f"{cls.__name__}: {table.name} has no column for {', '.join(missing)}")
        self.columns: tuple[Column[Any], ...] = tuple(table.c[renamed.get(f.name, f.name)] for f in fields)
        namespace: dict[str, Any] = {"cls": cls}
        reads, writes = [], []
        for i, f in enumerate(fields):
            conv, optional = _inferred(hints[f.name])
            conv = overrides.get(f.name, conv) or Convert()
            read, value = f"r[{i}]", f"o.{f.name}"
            if conv.from_row is not None:
                namespace[f"f{i}"] = conv.from_row
                read = _guarded(f"f{i}({read})", read, optional)
            if conv.attribute is not None:
                value = _guarded(f"{value}.{conv.attribute}", value, optional)
            elif conv.to_row is not None:
                namespace[f"t{i}"] = conv.to_row
                value = _guarded(f"t{i}({value})", value, optional)
            reads.append(read)
            writes.append(f"{self.columns[i].name!r}: {value}")
        # The source holds only positions, attribute names of the dataclass and column names of
        # the table: nothing read from a database or a request.
        source = (
            f"def from_row(r):\n    return cls({', '.join(reads)})\n"
            f"def to_params(o):\n    return {{{', '.join(writes)}}}\n"
        )
        exec(compile(source, f"<mapper {cls.__name__}>", "exec"), namespace)  # noqa: S102
        self.from_row: Callable[[Sequence[Any]], T] = namespace["from_row"]
        self.to_params: Callable[[T], dict[str, Any]] = namespace["to_params"]

    def values(self, *leave_out: str) -> dict[str, Any]:
        """``{column: bindparam(column)}`` for an insert or update, less the columns named."""
        return {c.name: bindparam(c.name) for c in self.columns if c.name not in leave_out}
