"""domain/numbers.py: the one reader of whole numbers for the API and the console."""

from __future__ import annotations

import pytest

from openkms.domain import numbers
from openkms.domain.numbers import InvalidNumber, digits, parse_integer


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("7", 7),
        ("007", 7),
        ("+7", 7),
        ("-7", -7),
        ("-0", 0),
        (" 7 ", 7),
        ("\t30\n", 30),
        ("9" * 18, 10**18 - 1),
    ],
)
def test_whole_numbers_in_ascii_digits(text: str, value: int) -> None:
    assert parse_integer(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "+",
        "-",
        "²",  # isdigit() is True for it, int() refuses it
        "٣٠",  # Arabic-Indic digits: int() reads 30
        "３",  # a fullwidth digit: int() reads 3
        "1e3",
        "1.0",
        "0x10",
        "1_000",  # int() reads 1000
        "1 000",
        "--1",
        "+-1",
        "+ 7",
        "7-",
        "ten",
        "9" * 19,
        "9" * 5000,  # int() refuses more than 4300 digits with its own error
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidNumber) as err:
        parse_integer(text)
    assert err.value.reason == "It must be an integer."


@pytest.mark.parametrize("text", ["+7", "-7", "- 7"])
def test_unsigned_refuses_a_sign(text: str) -> None:
    with pytest.raises(InvalidNumber, match="whole number"):
        parse_integer(text, signed=False)
    assert parse_integer(" 7 ", signed=False) == 7


def test_bounds_are_inclusive_and_named_in_the_reason() -> None:
    assert parse_integer("1", lo=1, hi=10) == 1
    assert parse_integer("10", lo=1, hi=10) == 10
    for text, lo, hi, reason in [
        ("0", 1, 10, "It must be from 1 to 10."),
        ("11", 1, 10, "It must be from 1 to 10."),
        ("-1", 0, None, "It must be at least 0."),
        ("11", None, 10, "It must be at most 10."),
    ]:
        with pytest.raises(InvalidNumber) as err:
            parse_integer(text, lo=lo, hi=hi)
        assert err.value.reason == reason


def test_max_digits_limits_the_length_not_the_value() -> None:
    assert parse_integer("000123", max_digits=6) == 123
    with pytest.raises(InvalidNumber):
        parse_integer("1234567", max_digits=6)
    assert numbers.MAX_DIGITS == 18


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("12", 12), ("123456789", 123456789)])
def test_digits_is_exactly_ascii_digits(text: str, value: int) -> None:
    assert digits(text, 9) == value


@pytest.mark.parametrize("text", ["", " 1", "1 ", "+1", "-1", "²", "١", "1234567890", "1.5"])
def test_digits_takes_nothing_else(text: str) -> None:
    assert digits(text, 9) is None
