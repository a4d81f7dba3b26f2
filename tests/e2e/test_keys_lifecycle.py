"""CreateKey with every parameter, DescribeKey's field formats and KeyId forms, UpdateKeyDescription,
EnableKey / DisableKey (spec §3.1, §4.1, §4.7; test plan items 3, 4, 18)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.e2e.clients import Kms
from tests.e2e.keyutil import (
    DAY,
    ISO_UTC,
    UUID,
    account_uid,
    describe,
    epoch,
    key_count,
    new_key,
    other_account,
    refusal,
    tags_json,
)
from tests.servers import InProcessServer

TIME_FIELDS = ("CreationDate", "LastRotationDate", "NextRotationDate", "DeleteDate", "MaterialExpireTime")


def test_create_key_defaults_and_field_formats(kms: Kms, server: InProcessServer) -> None:
    uid = account_uid(server, kms)
    before = int(server.clock.now())
    created = kms.call("CreateKey")
    assert created["RequestId"]
    meta = created["KeyMetadata"]
    after = int(server.clock.now())

    assert UUID.match(meta["KeyId"])
    assert meta["Arn"] == f"acs:kms:cn-hangzhou:{uid}:key/{meta['KeyId']}"
    assert meta["KeySpec"] == "Aliyun_AES_256"
    assert meta["KeyUsage"] == "ENCRYPT/DECRYPT"
    assert meta["KeyState"] == "Enabled"
    assert meta["Origin"] == "Aliyun_KMS"
    assert meta["ProtectionLevel"] == "SOFTWARE"
    assert meta["Creator"] == uid
    assert UUID.match(meta["PrimaryKeyVersion"])
    assert meta["PrimaryKeyVersion"] != meta["KeyId"]
    # Unset optional fields are empty strings, never absent or null.
    for name in ("Description", "DeleteDate", "MaterialExpireTime", "RotationInterval", "NextRotationDate"):
        assert meta[name] == "", name
    assert meta["AutomaticRotation"] == "Disabled"
    assert before <= epoch(meta["CreationDate"]) <= after
    assert meta["LastRotationDate"] == meta["CreationDate"]

    described = describe(kms, meta["KeyId"])
    assert described["DeletionProtection"] == "Disabled"
    assert described["DeletionProtectionDescription"] == ""
    for name in TIME_FIELDS:
        assert described[name] == "" or ISO_UTC.match(described[name]), (name, described[name])
    for name, value in meta.items():
        assert described[name] == value, name


def test_create_key_with_every_parameter(kms: Kms) -> None:
    policy = json.dumps(
        {
            "Version": "1",
            "Statement": [
                {"Effect": "Allow", "Principal": {"RAM": ["acs:ram::1:*"]}, "Action": ["kms:*"], "Resource": ["*"]}
            ],
        },
        indent=1,
    )
    meta = new_key(
        kms,
        KeySpec="Aliyun_AES_256",
        KeyUsage="ENCRYPT/DECRYPT",
        Origin="Aliyun_KMS",
        ProtectionLevel="SOFTWARE",
        Description="payments data key",
        EnableAutomaticRotation=True,
        RotationInterval="604800s",
        Tags=tags_json({"Project": "Test", "env": "dev"}),
        Policy=policy,
        DKMSInstanceId="",  # KMS-instance only: accepted, ignored
    )
    assert meta["KeyState"] == "Enabled"
    assert meta["Description"] == "payments data key"
    assert meta["AutomaticRotation"] == "Enabled"
    assert meta["RotationInterval"] == "604800s"
    assert epoch(meta["NextRotationDate"]) == epoch(meta["LastRotationDate"]) + 7 * DAY
    tags = kms.call("ListResourceTags", KeyId=meta["KeyId"])["Tags"]["Tag"]
    assert sorted((t["TagKey"], t["TagValue"], t["KeyId"]) for t in tags) == [
        ("Project", "Test", meta["KeyId"]),
        ("env", "dev", meta["KeyId"]),
    ]
    assert kms.call("GetKeyPolicy", KeyId=meta["KeyId"])["Policy"] == policy


@pytest.mark.parametrize("spec", ["Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_AES_192", "Aliyun_SM4"])
def test_every_symmetric_spec_is_created_and_usable(kms: Kms, spec: str) -> None:
    meta = new_key(kms, KeySpec=spec)
    assert (meta["KeySpec"], meta["KeyUsage"], meta["KeyState"]) == (spec, "ENCRYPT/DECRYPT", "Enabled")
    out = kms.call("Encrypt", KeyId=meta["KeyId"], Plaintext="x")
    assert kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == "x"
    assert out["KeyVersionId"] == meta["PrimaryKeyVersion"]


@pytest.mark.parametrize("interval", ["7d", "168h", "10080m", "604800s"])
def test_rotation_interval_units_are_normalised_to_seconds(kms: Kms, interval: str) -> None:
    meta = new_key(kms, EnableAutomaticRotation=True, RotationInterval=interval)
    assert (meta["AutomaticRotation"], meta["RotationInterval"]) == ("Enabled", "604800s")


def test_rotation_interval_bounds_and_syntax(kms: Kms) -> None:
    assert new_key(kms, EnableAutomaticRotation=True, RotationInterval="730d")["RotationInterval"] == "63072000s"
    assert new_key(kms, EnableAutomaticRotation=True, RotationInterval="30d")["RotationInterval"] == "2592000s"
    for bad in ("6d", "3d", "604799s", "731d", "17521h", "7", "7w", "d", "-7d", "7.5d"):
        assert refusal(kms, "CreateKey", EnableAutomaticRotation=True, RotationInterval=bad) == (
            400,
            "InvalidParameter",
        ), bad
    # Rotation on without an interval.
    assert refusal(kms, "CreateKey", EnableAutomaticRotation=True) == (400, "MissingParameter")
    assert refusal(kms, "CreateKey", EnableAutomaticRotation="maybe") == (400, "InvalidParameter")
    # [INFERRED] RotationInterval is ignored (not validated) while rotation is off.
    meta = new_key(kms, EnableAutomaticRotation=False, RotationInterval="3d")
    assert (meta["AutomaticRotation"], meta["RotationInterval"], meta["NextRotationDate"]) == ("Disabled", "", "")
    assert key_count(kms) == 3


def test_description_limits(kms: Kms) -> None:
    assert new_key(kms, Description="d" * 8192)["Description"] == "d" * 8192
    assert refusal(kms, "CreateKey", Description="d" * 8193) == (400, "InvalidParameter")
    text = "Schlüssel für 支付 *~ & = +"
    assert new_key(kms, Description=text)["Description"] == text
    assert key_count(kms) == 2


def test_create_key_tags_refusals(kms: Kms) -> None:
    assert refusal(kms, "CreateKey", Tags='[{"TagKey":"a","TagValue":"b"}') == (400, "InvalidParameter")
    assert refusal(kms, "CreateKey", Tags='{"TagKey":"a","TagValue":"b"}') == (400, "InvalidParameter")
    assert refusal(kms, "CreateKey", Tags='[{"Key":"a","Value":"b"}]') == (400, "InvalidParameter")
    assert refusal(kms, "CreateKey", Tags='[{"TagKey":"a","TagValue":1}]') == (400, "InvalidParameter")
    for reserved in ("aliyun", "aliyunKey", "ALIYUN-x", "acs:owner"):
        assert refusal(kms, "CreateKey", Tags=tags_json({reserved: "v"})) == (400, "InvalidParameter"), reserved
    assert refusal(kms, "CreateKey", Tags=tags_json({"bad*char": "v"})) == (400, "InvalidParameter")
    assert refusal(kms, "CreateKey", Tags=tags_json({"k" * 129: "v"})) == (400, "InvalidParameter")
    assert refusal(kms, "CreateKey", Tags=tags_json({"k": "v" * 257})) == (400, "InvalidParameter")
    # [INFERRED] more than 20 tags is a resource limit, like the per-key TagResource limit.
    too_many = tags_json({f"k{i}": "v" for i in range(21)})
    assert refusal(kms, "CreateKey", Tags=too_many) == (400, "Rejected.LimitExceeded")
    assert key_count(kms) == 0

    edge = {"k" * 128: "v" * 256, "a-Z_0 9/\\.+=:@": ""} | {f"t{i}": "x" for i in range(18)}
    meta = new_key(kms, Tags=tags_json(edge))
    tags = kms.call("ListResourceTags", KeyId=meta["KeyId"])["Tags"]["Tag"]
    assert {t["TagKey"]: t["TagValue"] for t in tags} == edge


def test_create_key_policy_refusals(kms: Kms) -> None:
    assert refusal(kms, "CreateKey", Policy="{not json") == (400, "InvalidParameter")
    assert refusal(kms, "CreateKey", Policy='{"Version":"2","Statement":[{"Effect":"Allow"}]}') == (
        400,
        "InvalidParameter",
    )
    assert key_count(kms) == 0


def test_keyspec_usage_origin_protection_level_refusals(kms: Kms) -> None:
    rotation = {"EnableAutomaticRotation": True, "RotationInterval": "30d"}
    cases: list[tuple[dict[str, object], tuple[int, str]]] = [
        ({"KeySpec": "Aliyun_AES_512"}, (400, "InvalidParameter")),
        ({"KeySpec": "aliyun_aes_256"}, (400, "InvalidParameter")),  # case-sensitive
        ({"KeyUsage": "SIGN/VERIFY"}, (400, "InvalidParameter")),  # does not fit Aliyun_AES_256
        ({"KeySpec": "Aliyun_SM4", "KeyUsage": "SIGN/VERIFY"}, (400, "InvalidParameter")),
        ({"KeySpec": "EC_P256", "KeyUsage": "ENCRYPT/DECRYPT"}, (400, "InvalidParameter")),
        ({"KeyUsage": "ENCRYPT"}, (400, "InvalidParameter")),
        ({"Origin": "aliyun_kms"}, (400, "InvalidParameter")),
        ({"Origin": "EXTERNAL", "KeySpec": "RSA_2048"}, (400, "Unsupported.Origin")),  # symmetric only
        ({"Origin": "EXTERNAL", "KeySpec": "EC_P256"}, (400, "Unsupported.Origin")),
        ({"Origin": "EXTERNAL", **rotation}, (400, "Unsupported.Origin")),  # BYOK keys do not rotate
        # [INFERRED] automatic rotation of an asymmetric key is an unsupported operation.
        ({"KeySpec": "RSA_2048", **rotation}, (400, "Rejected.UnsupportedOperation")),
        ({"ProtectionLevel": "software"}, (400, "InvalidParameter")),
        # The HSM (SoftHSM2) has no SM4 or SM2 mechanisms: refused, never kept in software instead.
        ({"ProtectionLevel": "HSM", "KeySpec": "Aliyun_SM4"}, (400, "Unsupported.KeySpec")),
        ({"ProtectionLevel": "HSM", "DKMSInstanceId": "kst-nonexistent"}, (400, "InvalidParameter")),
    ]
    for params, expected in cases:
        assert refusal(kms, "CreateKey", **params) == expected, params
    assert key_count(kms) == 0


def test_describe_key_by_id_alias_and_arn(kms: Kms, server: InProcessServer) -> None:
    key = new_key(kms)
    kms.call("CreateAlias", AliasName="alias/test-1", KeyId=key["KeyId"])
    uid = account_uid(server, kms)
    refs = (key["KeyId"], "alias/test-1", key["Arn"], f"acs:kms:cn-hangzhou:{uid}:alias/test-1")
    for ref in refs:
        meta = describe(kms, ref)
        assert meta["KeyId"] == key["KeyId"], ref  # the resolved id, never the alias
        assert meta["Arn"] == key["Arn"]
        assert meta["DeletionProtection"] == "Disabled"


def test_describe_key_bad_identifiers(kms: Kms, server: InProcessServer) -> None:
    key = new_key(kms)
    uid = account_uid(server, kms)
    foreign_uid = "1" + uid[1:] if uid[0] != "1" else "2" + uid[1:]
    assert refusal(kms, "DescribeKey", KeyId=str(uuid.uuid4())) == (404, "Forbidden.KeyNotFound")
    assert refusal(kms, "DescribeKey", KeyId="alias/nope") == (404, "Forbidden.AliasNotFound")
    assert refusal(kms, "DescribeKey", KeyId=key["Arn"].replace(uid, foreign_uid)) == (404, "Forbidden.KeyNotFound")
    other_region_arn = key["Arn"].replace("cn-hangzhou", "cn-shanghai")
    assert refusal(kms, "DescribeKey", KeyId=other_region_arn) == (404, "Forbidden.KeyNotFound")
    assert refusal(kms, "DescribeKey", KeyId="acs:kms:cn-hangzhou") == (400, "InvalidParameter")
    assert refusal(kms, "DescribeKey", KeyId=f"acs:kms:cn-hangzhou:{uid}:secret/x") == (400, "InvalidParameter")
    assert refusal(kms, "DescribeKey") == (400, "MissingParameter")


def test_account_isolation(kms: Kms, server: InProcessServer) -> None:
    key = new_key(kms, Description="mine")
    kms.call("CreateAlias", AliasName="alias/shared-name", KeyId=key["KeyId"])
    other = other_account(server, kms)
    for ref in (key["KeyId"], key["Arn"]):
        assert refusal(other, "DescribeKey", KeyId=ref) == (404, "Forbidden.KeyNotFound")
    assert refusal(other, "DescribeKey", KeyId="alias/shared-name") == (404, "Forbidden.AliasNotFound")
    assert refusal(other, "DisableKey", KeyId=key["KeyId"]) == (404, "Forbidden.KeyNotFound")
    assert refusal(other, "UpdateKeyDescription", KeyId=key["KeyId"], Description="theirs") == (
        404,
        "Forbidden.KeyNotFound",
    )
    assert refusal(other, "ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7) == (
        404,
        "Forbidden.KeyNotFound",
    )
    assert refusal(other, "CreateAlias", AliasName="alias/x", KeyId=key["KeyId"]) == (404, "Forbidden.KeyNotFound")
    assert other.call("ListKeys")["TotalCount"] == 0
    assert other.call("ListAliases")["TotalCount"] == 0
    # The same alias name is free in the other account.
    theirs = new_key(other)
    other.call("CreateAlias", AliasName="alias/shared-name", KeyId=theirs["KeyId"])
    assert describe(other, "alias/shared-name")["KeyId"] == theirs["KeyId"]
    mine = describe(kms, "alias/shared-name")
    assert (mine["KeyId"], mine["Description"], mine["KeyState"]) == (key["KeyId"], "mine", "Enabled")


def test_update_key_description(kms: Kms) -> None:
    key = new_key(kms, Description="first")
    kms.call("UpdateKeyDescription", KeyId=key["KeyId"], Description="second")
    assert describe(kms, key["KeyId"])["Description"] == "second"
    kms.call("UpdateKeyDescription", KeyId=key["KeyId"], Description="d" * 8192)
    assert refusal(kms, "UpdateKeyDescription", KeyId=key["KeyId"], Description="d" * 8193) == (
        400,
        "InvalidParameter",
    )
    assert describe(kms, key["KeyId"])["Description"] == "d" * 8192  # unchanged by the refusal
    kms.call("UpdateKeyDescription", KeyId=key["KeyId"], Description="")  # an empty description clears it
    assert describe(kms, key["KeyId"])["Description"] == ""
    assert refusal(kms, "UpdateKeyDescription", KeyId=key["KeyId"]) == (400, "MissingParameter")
    assert refusal(kms, "UpdateKeyDescription", Description="x") == (400, "MissingParameter")
    assert refusal(kms, "UpdateKeyDescription", KeyId=str(uuid.uuid4()), Description="x") == (
        404,
        "Forbidden.KeyNotFound",
    )
    # Also works on a disabled key (state table §4.3).
    kms.call("DisableKey", KeyId=key["KeyId"])
    kms.call("UpdateKeyDescription", KeyId=key["KeyId"], Description="while disabled")
    assert describe(kms, key["KeyId"])["Description"] == "while disabled"


def test_enable_disable_are_idempotent(kms: Kms) -> None:
    key = new_key(kms, EnableAutomaticRotation=True, RotationInterval="30d")
    kid = key["KeyId"]
    kms.call("EnableKey", KeyId=kid)  # already Enabled: fine
    assert describe(kms, kid)["KeyState"] == "Enabled"
    for _ in range(2):
        kms.call("DisableKey", KeyId=kid)
        meta = describe(kms, kid)
        assert (meta["KeyState"], meta["AutomaticRotation"]) == ("Disabled", "Suspended")
    assert refusal(kms, "Encrypt", KeyId=kid, Plaintext="x") == (409, "Rejected.Disabled")
    for _ in range(2):
        kms.call("EnableKey", KeyId=kid)
        meta = describe(kms, kid)
        assert (meta["KeyState"], meta["AutomaticRotation"]) == ("Enabled", "Enabled")
    assert kms.call("Encrypt", KeyId=kid, Plaintext="x")["KeyId"] == kid
    assert refusal(kms, "EnableKey", KeyId=str(uuid.uuid4())) == (404, "Forbidden.KeyNotFound")
    assert refusal(kms, "DisableKey") == (400, "MissingParameter")


def test_id_only_actions_also_take_alias_and_arn(kms: Kms) -> None:
    """[INFERRED] lenient: actions documented as id-only accept an alias or ARN too."""
    key = new_key(kms)
    kms.call("CreateAlias", AliasName="alias/lenient", KeyId=key["KeyId"])
    kms.call("DisableKey", KeyId="alias/lenient")
    assert describe(kms, key["KeyId"])["KeyState"] == "Disabled"
    kms.call("EnableKey", KeyId=key["Arn"])
    assert describe(kms, key["KeyId"])["KeyState"] == "Enabled"
    kms.call("UpdateKeyDescription", KeyId="alias/lenient", Description="via alias")
    assert describe(kms, key["KeyId"])["Description"] == "via alias"
