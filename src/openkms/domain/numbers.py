"""Whole numbers as clients and people type them, read one way for the API and the console.

Python's own readers are too generous for input from outside: ``int()`` takes any Unicode decimal
digit (``٣٠`` is 30) and underscores (``1_000``), and ``str.isdigit()`` is true for superscripts
(``²``), which ``int()`` then refuses with an exception. Only ASCII digits are numbers here.
"""

from __future__ import annotations

# Enough for any count, size or Unix time, and far below the length at which int() refuses.
MAX_DIGITS = 18


class InvalidNumber(ValueError):
    """Not a whole number in the accepted form, or outside the bounds; ``reason`` is a sentence
    the API can return as it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def digits(text: str, max_digits: int = MAX_DIGITS) -> int | None:
    """``text`` if it is 1 to ``max_digits`` ASCII digits and nothing else (no sign, no space)."""
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


def parse_integer(
    text: str, *, signed: bool = True, lo: int | None = None, hi: int | None = None, max_digits: int = MAX_DIGITS
) -> int:
    """A whole number with surrounding whitespace ignored and, when ``signed``, an optional ``+`` or
    ``-``: the API's rule for its integer parameters. Raises InvalidNumber."""
    stripped = text.strip()
    sign = stripped[:1] if signed and stripped[:1] in ("+", "-") else ""
    number = digits(stripped[len(sign) :], max_digits)
    if number is None:
        raise InvalidNumber("It must be an integer." if signed else "It must be a whole number.")
    if sign == "-":
        number = -number
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise InvalidNumber(f"It must be {_bounds(lo, hi)}.")
    return number


def _bounds(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"from {lo} to {hi}"
    return f"at least {lo}" if lo is not None else f"at most {hi}"
