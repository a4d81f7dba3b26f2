"""Pagination and the ListKeys ``Filters`` language, shared by the API and the console."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from openkms.domain import errors, numbers

T = TypeVar("T")

MAX_PAGE_SIZE = 100
MAX_PAGE_NUMBER = 10**9
DEFAULT_PAGE_SIZE = 10
MAX_FILTERS = 10
MAX_FILTER_VALUES = 10


@dataclass(frozen=True, slots=True)
class Page:
    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.number < 1:
            raise errors.InvalidParameter("PageNumber", "PageNumber starts at 1.")
        if not 1 <= self.size <= MAX_PAGE_SIZE:
            raise errors.InvalidParameter("PageSize", f"PageSize is from 1 to {MAX_PAGE_SIZE}.")

    def slice(self, items: Sequence[T]) -> list[T]:
        start = (self.number - 1) * self.size
        return list(items[start : start + self.size])


def page_number(text: str | None) -> int:
    """PageNumber as the API reads it, and the console its page links: absent or empty is the
    first page; anything else is a whole number from 1 to MAX_PAGE_NUMBER or InvalidParameter."""
    return _read(text, "PageNumber", MAX_PAGE_NUMBER, 1)


def page_size(text: str | None) -> int:
    """PageSize as the API reads it: absent or empty is DEFAULT_PAGE_SIZE."""
    return _read(text, "PageSize", MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)


def _read(text: str | None, name: str, hi: int, default: int) -> int:
    if not text:
        return default
    try:
        return numbers.parse_integer(text, lo=1, hi=hi)
    except numbers.InvalidNumber as exc:
        raise errors.InvalidParameter(name, exc.reason) from None


@dataclass(frozen=True, slots=True)
class Filter:
    key: str
    values: tuple[str, ...]


FILTER_KEYS = (
    "KeyState",
    "KeySpec",
    "KeyUsage",
    "ProtectionLevel",
    "CreatorType",
    "DKMSInstanceId",
    "keyId",
    "AliasName",
    "Creator",
    "TagKey",
    "TagValue",
    "Origin",
)


def check_filters(filters: Sequence[Filter]) -> None:
    if len(filters) > MAX_FILTERS:
        raise errors.InvalidParameter("Filters", f"At most {MAX_FILTERS} filters.")
    for f in filters:
        if f.key not in FILTER_KEYS:
            raise errors.InvalidParameter("Filters", f"Unknown filter key; valid keys: {', '.join(FILTER_KEYS)}.")
        if not 1 <= len(f.values) <= MAX_FILTER_VALUES:
            raise errors.InvalidParameter("Filters", f"Each filter has 1 to {MAX_FILTER_VALUES} values.")


def matches(filters: Sequence[Filter], attributes: Callable[[str], set[str]]) -> bool:
    """Different keys combine with AND; the values of one key (and repeated keys) with OR."""
    by_key: dict[str, set[str]] = {}
    for f in filters:
        by_key.setdefault(f.key, set()).update(f.values)
    return all(attributes(key) & wanted for key, wanted in by_key.items())


def search_matches(term: str, key_id: str, aliases: Iterable[str]) -> bool:
    """The console's key search: ``term`` (surrounding spaces ignored, any case) is part of the
    key's id or of one of its alias names. An empty term matches every key."""
    needle = term.strip().lower()
    return needle in key_id.lower() or any(needle in name.lower() for name in aliases)
