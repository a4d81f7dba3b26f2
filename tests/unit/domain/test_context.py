"""EncryptionContext (spec 4.9): string-to-string, at most 8192 characters, canonical form
independent of order, absent or empty == ``{}``."""

from __future__ import annotations

import json
from itertools import permutations

import pytest

from openkms.domain import context, errors


def test_canonical_is_order_independent() -> None:
    pairs = [("a", "1"), ("b", "2"), ("c", "3")]
    forms = {context.canonical(dict(p)) for p in permutations(pairs)}
    assert forms == {b'{"a":"1","b":"2","c":"3"}'}


def test_empty_and_absent_are_the_empty_object() -> None:
    assert context.canonical(None) == b"{}"
    assert context.canonical({}) == b"{}"


def test_canonical_keeps_unicode_as_utf8() -> None:
    assert context.canonical({"ключ": "wörld"}) == '{"ключ":"wörld"}'.encode()


def test_canonical_distinguishes_different_contexts() -> None:
    base = context.canonical({"a": "1"})
    assert context.canonical({"a": "2"}) != base
    assert context.canonical({"a": "1", "b": ""}) != base
    assert context.canonical({"A": "1"}) != base
    # A value that looks like another pair cannot collide with two pairs.
    assert context.canonical({"a": '1","b":"2'}) != context.canonical({"a": "1", "b": "2"})


def test_canonical_is_valid_json_of_the_same_map() -> None:
    ctx = {"z": 'quote " and \\ backslash', "a": "tab\t"}
    assert json.loads(context.canonical(ctx)) == ctx


def test_validate_accepts_string_maps() -> None:
    assert context.validate({"a": "1", "b": ""}) == {"a": "1", "b": ""}


@pytest.mark.parametrize("value", [1, 1.5, True, None, ["x"], {"n": "x"}])
def test_validate_refuses_non_string_values(value: object) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        context.validate({"a": value})
    assert err.value.name == "EncryptionContext"


def test_validate_refuses_empty_keys() -> None:
    with pytest.raises(errors.InvalidParameter):
        context.validate({"": "x"})


def test_validate_limits_the_total_to_8192_characters() -> None:
    assert context.validate({"k": "v" * (context.MAX_CONTEXT_CHARS - 1)})
    with pytest.raises(errors.InvalidParameter, match="8192"):
        context.validate({"k": "v" * context.MAX_CONTEXT_CHARS})


def test_validate_names_the_parameter() -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        context.validate({"a": 1}, "SourceEncryptionContext")
    assert err.value.name == "SourceEncryptionContext"
