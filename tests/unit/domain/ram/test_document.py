"""Policy documents are refused when malformed, with the line of the problem — never accepted and
later ignored."""

from __future__ import annotations

import pytest

from openkms.domain.ram.document import (
    MAX_IDENTITY_POLICY_BYTES,
    Effect,
    Kind,
    MalformedPolicy,
    compile_policy,
)

GOOD = """{
  "Version": "1",
  "Statement": [
    {
      "Sid": "use-payments-keys",
      "Effect": "Allow",
      "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
      "Resource": "acs:kms:*:*:key/*",
      "Condition": {
        "IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.1"]},
        "StringEquals": {"kms:tag/team": "payments"},
        "Bool": {"acs:SecureTransport": true},
        "NumericLessThan": {"kms:tag/tier": 3}
      }
    },
    {"Effect": "Deny", "NotAction": "kms:List*", "NotResource": ["acs:kms:*:*:key/public-*"]}
  ]
}"""


def test_a_good_document_compiles() -> None:
    policy = compile_policy(GOOD)
    first, second = policy.statements
    assert (first.effect, first.sid) == (Effect.ALLOW, "use-payments-keys")
    assert [c.operator for c in first.conditions] == ["IpAddress", "StringEquals", "Bool", "NumericLessThan"]
    assert (second.effect, second.actions.negated, second.resources.negated) == (Effect.DENY, True, True)


ONE_STATEMENT = '{"Version": "1",\n "Statement": [{"Effect": "Allow", %s}]}'


def _with(line: str) -> str:
    """GOOD with its line 6 (the Effect) replaced."""
    lines = GOOD.split("\n")
    lines[5] = line
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ('{"Version": "1", "Statement": [', 1, "not valid JSON"),
        ('{\n\n  "Version": "1",\n  "Statement": [}\n', 4, "not valid JSON"),
        (_with('      "Effect": "Alow",'), 6, '"Effect" must be "Allow" or "Deny"'),
        (_with('      "Effect": "Allow", "Principal": "*",'), 6, 'unknown element "Principal"'),
        (_with('      "Effect": "Allow", "Action": "kms:Encrypt",'), 7, '"Action" appears twice'),
        (_with('      "Effect": "Allow", "NotAction": "kms:Encrypt",'), 4, 'exactly one of "Action" and "NotAction"'),
        ('{"Version": "2", "Statement": []}', 1, '"Version" must be "1"'),
        ('{"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}', 1, '"Version" must be "1"'),
        ('{"Version": "1", "Statement": []}', 1, '"Statement" must not be empty'),
        ('{"Version": "1", "Statement": [], "Extra": 1}', 1, 'unknown element "Extra"'),
        (ONE_STATEMENT % '"Action": "kms:*"', 2, '"Resource" and "NotResource"'),
        (ONE_STATEMENT % '\n"Action": "Encrypt", "Resource": "*"', 3, "is not an action"),
        (ONE_STATEMENT % '\n"Action": [], "Resource": "*"', 3, "must not be empty"),
        (ONE_STATEMENT % '"Action": "kms:*", "Resource": ["*", 5]', 2, "list of non-empty strings"),
    ],
)
def test_malformed_documents_name_their_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(MalformedPolicy) as err:
        compile_policy(text)
    assert err.value.line == line, str(err.value)
    assert fragment in err.value.reason, str(err.value)


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        ('{"StringEqual": {"acs:AccessId": "x"}}', '"StringEqual" is not a condition operator'),
        ('{"IpAddress": {"acs:SourceIp": "10.0.0.300"}}', 'IpAddress takes an IP address or CIDR; "10.0.0.300"'),
        ('{"NumericEquals": {"kms:tag/n": "three"}}', "NumericEquals takes a number"),
        ('{"DateLessThan": {"acs:CurrentTime": "tomorrow"}}', "DateLessThan takes a date"),
        ('{"Bool": {"acs:SecureTransport": "yes"}}', "Bool takes true or false"),
        ('{"StringEquals": {"SourceIp": "x"}}', "is not a condition key"),
        ('{"StringEquals": {"acs:AccessId": {"a": 1}}}', "takes a value or a list of values"),
        ('{"StringEquals": {"acs:AccessId": []}}', "takes a value or a list of values"),
        ("{}", '"Condition" is an object of operators'),
        ('{"StringEquals": {}}', "takes an object of condition keys"),
    ],
)
def test_malformed_conditions_name_their_line(condition: str, fragment: str) -> None:
    text = ONE_STATEMENT.replace("\n", "") % f'"Action": "kms:*", "Resource": "*",\n"Condition": {condition}'
    with pytest.raises(MalformedPolicy) as err:
        compile_policy(text)
    assert err.value.line == 2, str(err.value)
    assert fragment in err.value.reason, str(err.value)


def test_resource_policies_need_a_ram_principal() -> None:
    statement = '{"Effect": "Allow", "Action": "kms:*", "Resource": "*"%s}'
    with pytest.raises(MalformedPolicy, match='needs a "Principal"'):
        compile_policy('{"Version": "1", "Statement": [%s]}' % (statement % ""), Kind.RESOURCE)
    document = '{"Version": "1", "Statement": [%s]}'
    with pytest.raises(MalformedPolicy, match="is not a RAM principal"):
        compile_policy(document % (statement % ', "Principal": {"RAM": "1234"}'), Kind.RESOURCE)
    with pytest.raises(MalformedPolicy, match='unknown element "Service"'):
        compile_policy(document % (statement % ', "Principal": {"Service": "x"}'), Kind.RESOURCE)
    ok = compile_policy(document % (statement % ', "Principal": {"RAM": ["*"]}'), Kind.RESOURCE)
    assert ok.statements[0].principals is not None


def test_sizes_and_depth_are_bounded() -> None:
    padded = GOOD.replace('"Version"', " " * MAX_IDENTITY_POLICY_BYTES + '"Version"')
    with pytest.raises(MalformedPolicy, match="longer than 6144 bytes"):
        compile_policy(padded)
    resource = padded.replace('"Effect"', '"Principal": "*", "Effect"')
    assert len(compile_policy(resource, Kind.RESOURCE).statements) == 2  # a key policy may take 32 KiB
    deep = '{"Version": "1", "Statement": ' + "[" * 100 + "]" * 100 + "}"
    with pytest.raises(MalformedPolicy, match="nests too deeply"):
        compile_policy(deep)
