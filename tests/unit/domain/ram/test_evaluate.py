"""The RAM policy evaluator's golden table: every operator x (holds, does not hold) x (Allow, Deny),
Action / NotAction, Resource / NotResource, wildcards, case rules, multi-valued and absent keys,
and how a key policy combines with the caller's RAM policies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openkms.domain.ram.conditions import OPERATORS
from openkms.domain.ram.document import Kind, compile_policy
from openkms.domain.ram.evaluate import Decision, Request, combine, evaluate

ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
KEY = "acs:kms:cn-hangzhou:1234:key/k-1"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def stmt(effect: str = "Allow", action: Any = "kms:*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def decide(text: str, action: str = "kms:Encrypt", resource: str = KEY, **context: Any) -> Decision:
    ctx = {k.lower(): (v if isinstance(v, (list, tuple)) else [v]) for k, v in context.items()}
    return evaluate([compile_policy(text)], Request(action, resource, context=ctx))


# operator -> (condition key, listed value, a request value that holds, one that does not)
GOLDEN: dict[str, tuple[str, Any, str, str]] = {
    "StringEquals": ("acs:AccessId", "LTAIabc", "LTAIabc", "ltaiabc"),
    "StringNotEquals": ("acs:AccessId", "LTAIabc", "LTAIxyz", "LTAIabc"),
    "StringEqualsIgnoreCase": ("kms:tag/team", "Payments", "PAYMENTS", "payment"),
    "StringNotEqualsIgnoreCase": ("kms:tag/team", "Payments", "billing", "PAYMENTS"),
    "StringLike": ("kms:EncryptionAlgorithm", "RSAES_OAEP_SHA_?56", "RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"),
    "StringNotLike": ("kms:tag/env", "prod*", "staging", "production"),
    "NumericEquals": ("kms:tag/tier", 3, "3.0", "4"),
    "NumericNotEquals": ("kms:tag/tier", 3, "4", "3"),
    "NumericLessThan": ("kms:tag/tier", "10", "9.5", "10"),
    "NumericLessThanEquals": ("kms:tag/tier", "10", "10", "10.01"),
    "NumericGreaterThan": ("kms:tag/tier", "10", "11", "10"),
    "NumericGreaterThanEquals": ("kms:tag/tier", "10", "10", "-10"),
    "DateEquals": ("acs:CurrentTime", "2026-12-03T10:00:00+08:00", "2026-12-03T02:00:00Z", "2026-12-03T10:00:00Z"),
    "DateNotEquals": ("acs:CurrentTime", "2026-12-03T02:00:00Z", "2026-12-03T02:00:01Z", "2026-12-03T02:00:00Z"),
    "DateLessThan": ("acs:CurrentTime", "2027-01-01T00:00:00Z", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"),
    "DateLessThanEquals": ("acs:CurrentTime", "2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-01-01T00:00:01Z"),
    "DateGreaterThan": ("acs:CurrentTime", "1798761600", "2027-01-01T00:00:01Z", "2027-01-01T00:00:00Z"),
    "DateGreaterThanEquals": (
        "acs:CurrentTime",
        "2027-01-01T00:00:00Z",
        "2027-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
    ),
    "Bool": ("acs:SecureTransport", True, "TRUE", "false"),
    "IpAddress": ("acs:SourceIp", "10.0.0.0/8", "10.20.30.40", "192.168.1.1"),
    "NotIpAddress": ("acs:SourceIp", ["10.0.0.0/8", "2001:db8::/32"], "192.168.1.1", "2001:db8::5"),
}


def test_the_golden_table_covers_every_operator() -> None:
    assert set(GOLDEN) == set(OPERATORS)


@pytest.mark.parametrize("operator", sorted(GOLDEN))
@pytest.mark.parametrize("effect", ["Allow", "Deny"])
def test_each_operator_holds_or_not(operator: str, effect: str) -> None:
    key, listed, holds, fails = GOLDEN[operator]
    conditional = stmt(effect, Condition={operator: {key: listed}})
    text = doc(conditional) if effect == "Allow" else doc(stmt("Allow"), conditional)
    if effect == "Allow":
        assert decide(text, **{key: holds}) is ALLOW
        assert decide(text, **{key: fails}) is IMPLICIT
    else:
        assert decide(text, **{key: holds}) is EXPLICIT
        assert decide(text, **{key: fails}) is ALLOW


@pytest.mark.parametrize("operator", sorted(GOLDEN))
def test_a_key_the_request_lacks(operator: str) -> None:
    """Positive operators do not hold; negated ones do (no value equals a listed one)."""
    key, listed, _, _ = GOLDEN[operator]
    text = doc(stmt(Condition={operator: {key: listed}}))
    negated = "Not" in operator
    assert decide(text) is (ALLOW if negated else IMPLICIT)


def test_listed_values_are_alternatives_and_operators_and_keys_all_hold() -> None:
    text = doc(
        stmt(
            Condition={
                "StringEquals": {"acs:AccessId": ["LTAIa", "LTAIb"], "kms:tag/team": "pay"},
                "IpAddress": {"acs:SourceIp": "10.0.0.0/8"},
            }
        )
    )
    ok = {"acs:AccessId": "LTAIb", "kms:tag/team": "pay", "acs:SourceIp": "10.1.1.1"}
    assert decide(text, **ok) is ALLOW
    assert decide(text, **{**ok, "kms:tag/team": "ops"}) is IMPLICIT
    assert decide(text, **{**ok, "acs:SourceIp": "11.1.1.1"}) is IMPLICIT


def test_a_multi_valued_request_key_holds_when_any_value_matches() -> None:
    text = doc(stmt(Condition={"StringEquals": {"acs:SourceVpc": "vpc-1"}}))
    assert decide(text, **{"acs:SourceVpc": ["vpc-9", "vpc-1"]}) is ALLOW
    negated = doc(stmt(Condition={"StringNotEquals": {"acs:SourceVpc": "vpc-1"}}))
    assert decide(negated, **{"acs:SourceVpc": ["vpc-9", "vpc-1"]}) is IMPLICIT


def test_condition_key_names_ignore_case() -> None:
    text = doc(stmt(Condition={"IpAddress": {"ACS:SOURCEIP": "127.0.0.1"}}))
    assert decide(text, **{"acs:SourceIp": "127.0.0.1"}) is ALLOW


@pytest.mark.parametrize(
    ("action", "request_action", "decision"),
    [
        ("kms:Encrypt", "kms:Encrypt", ALLOW),
        ("kms:encrypt", "kms:Encrypt", ALLOW),  # action names ignore case
        ("KMS:Encrypt", "kms:Encrypt", ALLOW),
        ("kms:Encrypt", "kms:Decrypt", IMPLICIT),
        ("kms:Generate*", "kms:GenerateDataKey", ALLOW),
        ("kms:Generate*", "kms:Encrypt", IMPLICIT),
        ("kms:?ncrypt", "kms:Encrypt", ALLOW),
        ("kms:?ncrypt", "kms:ReEncrypt", IMPLICIT),
        ("*", "ram:CreateUser", ALLOW),
        ("kms:*", "ram:CreateUser", IMPLICIT),
        (["ram:*", "kms:List*"], "kms:ListKeys", ALLOW),
    ],
)
def test_actions(action: Any, request_action: str, decision: Decision) -> None:
    assert decide(doc(stmt(action=action)), request_action) is decision


def test_not_action_allows_everything_else_and_is_not_a_deny() -> None:
    text = doc({"Effect": "Allow", "NotAction": ["kms:ScheduleKeyDeletion", "kms:Delete*"], "Resource": "*"})
    assert decide(text, "kms:Encrypt") is ALLOW
    assert decide(text, "kms:ScheduleKeyDeletion") is IMPLICIT
    assert decide(text, "kms:DeleteAlias") is IMPLICIT
    deny = doc(stmt(), {"Effect": "Deny", "NotAction": "kms:Decrypt", "Resource": "*"})
    assert decide(deny, "kms:Decrypt") is ALLOW
    assert decide(deny, "kms:Encrypt") is EXPLICIT


@pytest.mark.parametrize(
    ("resource", "request_resource", "decision"),
    [
        (KEY, KEY, ALLOW),
        ("acs:kms:*:1234:key/*", KEY, ALLOW),
        ("acs:kms:*:1234:key/*", "acs:kms:cn-hangzhou:1234:key", IMPLICIT),  # the container is not a key
        ("acs:kms:*:1234:key*", "acs:kms:cn-hangzhou:1234:key", ALLOW),
        ("acs:kms:*:9999:key/*", KEY, IMPLICIT),
        ("acs:kms:cn-hangzhou:1234:KEY/k-1", KEY, IMPLICIT),  # resources keep their case
        ("acs:kms:cn-hangzhou:1234:key/k-?", KEY, ALLOW),
    ],
)
def test_resources(resource: str, request_resource: str, decision: Decision) -> None:
    assert decide(doc(stmt(resource=resource)), resource=request_resource) is decision


def test_not_resource() -> None:
    text = doc({"Effect": "Allow", "Action": "kms:*", "NotResource": "acs:kms:*:*:key/secret-*"})
    assert decide(text, resource=KEY) is ALLOW
    assert decide(text, resource="acs:kms:cn-hangzhou:1234:key/secret-1") is IMPLICIT


def test_explicit_deny_wins_over_allow_in_any_policy_and_order() -> None:
    allow, deny = compile_policy(doc(stmt())), compile_policy(doc(stmt("Deny", "kms:Decrypt")))
    request = Request("kms:Decrypt", KEY)
    assert evaluate([allow, deny], request) is EXPLICIT
    assert evaluate([deny, allow], request) is EXPLICIT
    assert evaluate([allow, deny], Request("kms:Encrypt", KEY)) is ALLOW
    assert evaluate([], request) is IMPLICIT


def test_key_policy_principals() -> None:
    principals = {"RAM": ["acs:ram::1234:*", "acs:ram::5678:user/app"]}
    key_policy = compile_policy(doc(stmt(Principal=principals)), Kind.RESOURCE)
    for principal, decision in [
        ("acs:ram::1234:user/anyone", ALLOW),
        ("acs:ram::1234:root", ALLOW),
        ("acs:ram::5678:user/app", ALLOW),
        ("acs:ram::5678:user/other", IMPLICIT),
    ]:
        assert evaluate([key_policy], Request("kms:Encrypt", KEY, principal)) is decision


@pytest.mark.parametrize(
    ("identity", "resource", "same_account", "decision"),
    [
        (ALLOW, IMPLICIT, True, ALLOW),
        (IMPLICIT, ALLOW, True, ALLOW),
        (IMPLICIT, IMPLICIT, True, IMPLICIT),
        (ALLOW, EXPLICIT, True, EXPLICIT),
        (EXPLICIT, ALLOW, True, EXPLICIT),
        (ALLOW, ALLOW, False, ALLOW),
        (ALLOW, IMPLICIT, False, IMPLICIT),
        (IMPLICIT, ALLOW, False, IMPLICIT),
        (EXPLICIT, ALLOW, False, EXPLICIT),
        (ALLOW, EXPLICIT, False, EXPLICIT),
    ],
)
def test_key_policy_and_ram_policies_combine_as_alibaba_documents(
    identity: Decision, resource: Decision, same_account: bool, decision: Decision
) -> None:
    assert combine(identity, resource, same_account) is decision
