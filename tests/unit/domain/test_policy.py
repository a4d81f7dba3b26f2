"""Key policies: stored verbatim, checked against RAM's grammar for resource policies."""

from __future__ import annotations

import json

import pytest

from openkms.domain import errors
from openkms.domain.policy import MAX_POLICY_BYTES, check_policy_name, default_policy, validate_policy


def test_default_policy_is_valid_and_names_the_account() -> None:
    text = default_policy("1234567890123456")
    assert validate_policy(text) == text
    doc = json.loads(text)
    assert doc["Statement"][0]["Principal"]["RAM"] == ["acs:ram::1234567890123456:*"]


def test_a_valid_policy_is_returned_verbatim() -> None:
    text = '{ "Version" : "1", "Statement": [ {"Effect": "Deny", "Principal": "*", "Action": ["kms:*"]} ] }'
    assert validate_policy(text) == text


def test_a_statement_without_a_principal_is_refused_with_its_line() -> None:
    with pytest.raises(errors.InvalidParameter, match='line 2: a key policy statement needs a "Principal"'):
        validate_policy('{"Version": "1", "Statement": [\n {"Effect": "Deny", "Action": ["kms:*"]}]}')


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        '{"Version": "2", "Statement": [{"Effect": "Allow"}]}',
        '{"Version": 1, "Statement": [{"Effect": "Allow"}]}',
        '{"Version": "1"}',
        '{"Version": "1", "Statement": []}',
        '{"Version": "1", "Statement": {"Effect": "Allow"}}',
        '{"Version": "1", "Statement": [{"Effect": "allow"}]}',
        '{"Version": "1", "Statement": ["Allow"]}',
    ],
)
def test_invalid_policies(text: str) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        validate_policy(text)
    assert err.value.name == "Policy"


def test_policy_size_limit_counts_bytes() -> None:
    head = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Principal":{"RAM":"acs:ram::1:user/'
    fits = head + "x" * (MAX_POLICY_BYTES - len(head) - 5) + '"}}]}'
    assert len(fits.encode()) == MAX_POLICY_BYTES
    validate_policy(fits)
    # One more byte (here a two-byte character in place of one ASCII character) is too many.
    too_big = fits.replace("xx", "é", 1).replace("x", "xx", 1)
    assert len(too_big.encode()) == MAX_POLICY_BYTES + 1
    with pytest.raises(errors.InvalidParameter, match="32768"):
        validate_policy(too_big)


def test_policy_name() -> None:
    for name in (None, "", "default"):
        check_policy_name(name)
    with pytest.raises(errors.InvalidParameter) as err:
        check_policy_name("other")
    assert err.value.name == "PolicyName"
