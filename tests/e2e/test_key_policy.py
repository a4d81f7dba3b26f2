"""GetKeyPolicy / SetKeyPolicy: a default policy, verbatim round trips, shape checks (spec §3.8; test plan 23)."""

from __future__ import annotations

import json
import uuid

from tests.e2e.clients import Kms
from tests.e2e.keyutil import account_uid, new_key, refusal
from tests.servers import InProcessServer

# Odd spacing, key order and non-ASCII text: a verbatim store must give back these exact bytes.
POLICY = (
    '{ "Version":"1",\n  "Statement":[{"Sid":"Schlüssel-Zugriff", "Effect":"Allow",'
    '"Principal":{"RAM":["acs:ram::123456:role/app"]},"Action":["kms:Encrypt","kms:Decrypt"],'
    '"Resource":["*"],"Condition":{"StringEquals":{"acs:SourceVpc":"vpc-1"}}},'
    '{"Effect":"Deny","Principal":{"RAM":["*"]},"Action":["kms:ScheduleKeyDeletion"],"Resource":["*"]}] }'
)


def _sized_policy(size: int) -> str:
    """A valid key policy (RAM's grammar: a Principal in every statement) of exactly ``size`` bytes."""
    statement = {"Effect": "Allow", "Principal": {"RAM": ["acs:ram::123456:user/x"]}, "Action": ["kms:*"]}
    doc = {"Version": "1", "Statement": [statement]}
    statement["Principal"]["RAM"] = ["acs:ram::123456:user/" + "x" * (size - len(json.dumps(doc)) + 1)]  # type: ignore[index]
    text = json.dumps(doc)
    assert len(text.encode()) == size
    return text


def test_default_policy_when_none_set(kms: Kms, server: InProcessServer) -> None:
    key = new_key(kms)
    body = kms.call("GetKeyPolicy", KeyId=key["KeyId"], PolicyName="default")
    assert body["RequestId"]
    doc = json.loads(body["Policy"])
    assert doc["Version"] == "1"
    [statement] = doc["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"RAM": [f"acs:ram::{account_uid(server, kms)}:*"]}
    assert statement["Action"] == ["kms:*"]
    # PolicyName may be left out; the only name is "default".
    assert kms.call("GetKeyPolicy", KeyId=key["KeyId"])["Policy"] == body["Policy"]


def test_set_then_get_is_verbatim(kms: Kms) -> None:
    key = new_key(kms)
    assert set(kms.call("SetKeyPolicy", KeyId=key["KeyId"], PolicyName="default", Policy=POLICY)) == {"RequestId"}
    for ref in (key["KeyId"], key["Arn"]):
        assert kms.call("GetKeyPolicy", KeyId=ref, PolicyName="default")["Policy"] == POLICY
    # By ARN too, and a second set replaces the first.
    largest = _sized_policy(32768)
    kms.call("SetKeyPolicy", KeyId=key["Arn"], PolicyName="default", Policy=largest)
    assert kms.call("GetKeyPolicy", KeyId=key["KeyId"])["Policy"] == largest
    # A disabled key's policy can still be set (only PendingDeletion refuses it).
    kms.call("DisableKey", KeyId=key["KeyId"])
    kms.call("SetKeyPolicy", KeyId=key["KeyId"], PolicyName="default", Policy=POLICY)
    assert kms.call("GetKeyPolicy", KeyId=key["KeyId"])["Policy"] == POLICY


def test_set_key_policy_refusals(kms: Kms) -> None:
    key = new_key(kms)
    kid = key["KeyId"]
    kms.call("SetKeyPolicy", KeyId=kid, PolicyName="default", Policy=POLICY)
    bad_policies = [
        "{not json",
        "[]",
        '"a string"',
        '{"Statement":[{"Effect":"Allow"}]}',  # no Version
        '{"Version":"2","Statement":[{"Effect":"Allow"}]}',
        '{"Version":1,"Statement":[{"Effect":"Allow"}]}',  # Version must be the string "1"
        '{"Version":"1"}',  # no Statement
        '{"Version":"1","Statement":[]}',
        '{"Version":"1","Statement":[{"Effect":"Maybe"}]}',
        '{"Version":"1","Statement":["Allow"]}',
        _sized_policy(32769),
    ]
    for text in bad_policies:
        assert refusal(kms, "SetKeyPolicy", KeyId=kid, PolicyName="default", Policy=text) == (
            400,
            "InvalidParameter",
        ), text[:80]
    assert refusal(kms, "SetKeyPolicy", KeyId=kid, PolicyName="other", Policy=POLICY) == (400, "InvalidParameter")
    assert refusal(kms, "SetKeyPolicy", KeyId=kid, PolicyName="default") == (400, "MissingParameter")
    assert refusal(kms, "SetKeyPolicy", PolicyName="default", Policy=POLICY) == (400, "MissingParameter")
    assert refusal(kms, "SetKeyPolicy", KeyId=str(uuid.uuid4()), PolicyName="default", Policy=POLICY) == (
        404,
        "Forbidden.KeyNotFound",
    )
    assert refusal(kms, "GetKeyPolicy", KeyId=kid, PolicyName="other") == (400, "InvalidParameter")
    assert refusal(kms, "GetKeyPolicy", KeyId=str(uuid.uuid4())) == (404, "Forbidden.KeyNotFound")
    assert refusal(kms, "GetKeyPolicy", KeyId=key["Arn"].replace("cn-hangzhou", "eu-central-1")) == (
        404,
        "Forbidden.KeyNotFound",
    )
    assert refusal(kms, "GetKeyPolicy") == (400, "MissingParameter")
    # None of the refusals changed the stored policy.
    assert kms.call("GetKeyPolicy", KeyId=kid)["Policy"] == POLICY
