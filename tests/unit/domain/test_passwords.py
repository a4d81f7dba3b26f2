"""GetRandomPassword rules: length 8-128, classes included or excluded, each included class present."""

from __future__ import annotations

import string

import pytest

from openkms.domain import errors
from openkms.domain.passwords import PUNCTUATION, PasswordRules, generate


def test_default_is_32_characters_with_every_class() -> None:
    for _ in range(50):
        password = generate(PasswordRules())
        assert len(password) == 32
        assert any(c in string.ascii_lowercase for c in password)
        assert any(c in string.ascii_uppercase for c in password)
        assert any(c in string.digits for c in password)
        assert any(c in PUNCTUATION for c in password)


@pytest.mark.parametrize("length", [8, 16, 128])
def test_length(length: int) -> None:
    assert len(generate(PasswordRules(length=length))) == length


@pytest.mark.parametrize("length", [0, 7, 129])
def test_length_out_of_range(length: int) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        generate(PasswordRules(length=length))
    assert err.value.name == "PasswordLength"


def test_excluded_classes_never_appear_and_included_ones_always_do() -> None:
    rules = PasswordRules(length=16, exclude_punctuation=True)
    for _ in range(50):
        password = generate(rules)
        assert not any(c in PUNCTUATION for c in password)
        assert set(password) <= set(string.ascii_letters + string.digits)
        assert any(c.islower() for c in password)
        assert any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)


def test_only_digits() -> None:
    password = generate(PasswordRules(exclude_lowercase=True, exclude_uppercase=True, exclude_punctuation=True))
    assert password.isdigit()


def test_exclude_characters() -> None:
    excluded = "aeiouAEIOU01!@"
    for _ in range(50):
        assert not set(generate(PasswordRules(exclude_characters=excluded))) & set(excluded)


def test_nothing_left_is_an_error() -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        generate(
            PasswordRules(
                exclude_lowercase=True,
                exclude_uppercase=True,
                exclude_punctuation=True,
                exclude_characters=string.digits,
            )
        )
    assert err.value.name == "ExcludeCharacters"


def test_passwords_differ() -> None:
    assert len({generate(PasswordRules()) for _ in range(20)}) == 20
