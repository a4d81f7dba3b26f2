"""The built-in system policies compile and grant what their names say."""

from __future__ import annotations

import pytest

from openkms.domain.ram.document import compile_policy
from openkms.domain.ram.evaluate import Decision, Request, evaluate
from openkms.domain.ram.system_policies import SYSTEM_POLICIES

KEY = "acs:kms:cn-hangzhou:1234:key/k-1"
SECRET = "acs:kms:cn-hangzhou:1234:secret/s"


def decide(policy: str, action: str, resource: str = KEY) -> Decision:
    return evaluate([compile_policy(SYSTEM_POLICIES[policy].document)], Request(action, resource))


@pytest.mark.parametrize("name", sorted(SYSTEM_POLICIES))
def test_every_system_policy_compiles(name: str) -> None:
    assert compile_policy(SYSTEM_POLICIES[name].document).statements


@pytest.mark.parametrize(
    ("policy", "action", "resource", "decision"),
    [
        ("AliyunKMSFullAccess", "kms:ScheduleKeyDeletion", KEY, Decision.ALLOW),
        ("AliyunKMSFullAccess", "ram:CreateUser", "acs:ram:*:1234:user/a", Decision.IMPLICIT_DENY),
        ("AliyunKMSReadOnlyAccess", "kms:DescribeKey", KEY, Decision.ALLOW),
        ("AliyunKMSReadOnlyAccess", "kms:ListKeys", "acs:kms:cn-hangzhou:1234:key", Decision.ALLOW),
        ("AliyunKMSReadOnlyAccess", "kms:Encrypt", KEY, Decision.IMPLICIT_DENY),
        ("AliyunKMSCryptoAdminAccess", "kms:CreateKey", "acs:kms:cn-hangzhou:1234:key", Decision.ALLOW),
        ("AliyunKMSCryptoAdminAccess", "kms:DeleteAlias", "acs:kms:cn-hangzhou:1234:alias/a", Decision.ALLOW),
        (
            "AliyunKMSCryptoAdminAccess",
            "kms:GetSecretValue",
            SECRET,
            Decision.IMPLICIT_DENY,
        ),
        ("AliyunKMSCryptoUserAccess", "kms:Encrypt", KEY, Decision.ALLOW),
        ("AliyunKMSCryptoUserAccess", "kms:ReEncrypt", KEY, Decision.IMPLICIT_DENY),  # as published
        ("AliyunKMSCryptoUserAccess", "kms:DisableKey", KEY, Decision.IMPLICIT_DENY),
        ("AliyunKMSSecretUserAccess", "kms:GetSecretValue", SECRET, Decision.ALLOW),
        ("AliyunKMSSecretUserAccess", "kms:Encrypt", KEY, Decision.IMPLICIT_DENY),
        ("AliyunKMSSecretAdminAccess", "kms:DeleteSecret", SECRET, Decision.ALLOW),
        ("AliyunKMSSecretAdminAccess", "kms:Encrypt", KEY, Decision.IMPLICIT_DENY),
        ("AliyunRAMFullAccess", "ram:CreateUser", "acs:ram:*:1234:user/a", Decision.ALLOW),
    ],
)
def test_what_each_system_policy_grants(policy: str, action: str, resource: str, decision: Decision) -> None:
    assert decide(policy, action, resource) is decision
