"""Regions: SM specs only in mainland China, region isolation of keys, aliases and tags, ARNs carry
the region (issue 2 item 6; spec §2, §4.7)."""

from __future__ import annotations

from collections.abc import Callable

from tests.e2e.clients import Kms
from tests.e2e.keyutil import account_uid, describe, new_key, refusal
from tests.servers import InProcessServer

KmsFactory = Callable[[str], Kms]


def test_sm_specs_only_in_mainland_china(kms_factory: KmsFactory, server: InProcessServer) -> None:
    singapore, shanghai = kms_factory("ap-southeast-1"), kms_factory("cn-shanghai")
    uid = account_uid(server, singapore)
    for spec in ("Aliyun_SM4", "EC_SM2"):
        assert refusal(singapore, "CreateKey", KeySpec=spec) == (400, "Unsupported.KeySpec"), spec
    assert singapore.call("ListKeys")["TotalCount"] == 0
    aes = new_key(singapore)
    assert aes["Arn"] == f"acs:kms:ap-southeast-1:{uid}:key/{aes['KeyId']}"

    sm4 = new_key(shanghai, KeySpec="Aliyun_SM4")
    assert (sm4["KeySpec"], sm4["KeyState"]) == ("Aliyun_SM4", "Enabled")
    assert sm4["Arn"] == f"acs:kms:cn-shanghai:{uid}:key/{sm4['KeyId']}"
    blob = shanghai.call("Encrypt", KeyId=sm4["KeyId"], Plaintext="国密")["CiphertextBlob"]
    assert shanghai.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "国密"


def test_keys_are_isolated_per_region(kms_factory: KmsFactory, server: InProcessServer) -> None:
    hangzhou, shanghai = kms_factory("cn-hangzhou"), kms_factory("cn-shanghai")
    uid = account_uid(server, hangzhou)
    key = new_key(hangzhou, Description="hz")
    assert key["Arn"] == f"acs:kms:cn-hangzhou:{uid}:key/{key['KeyId']}"
    blob = hangzhou.call("Encrypt", KeyId=key["KeyId"], Plaintext="x")["CiphertextBlob"]

    # The same account in another region sees nothing of it, however it is named.
    for ref in (key["KeyId"], key["Arn"]):
        assert refusal(shanghai, "DescribeKey", KeyId=ref) == (404, "Forbidden.KeyNotFound"), ref
    assert refusal(shanghai, "DisableKey", KeyId=key["KeyId"]) == (404, "Forbidden.KeyNotFound")
    assert refusal(shanghai, "Decrypt", CiphertextBlob=blob) == (404, "Forbidden.KeyNotFound")
    assert shanghai.call("ListKeys")["TotalCount"] == 0

    local = new_key(shanghai, Description="sh")
    assert local["Arn"] == f"acs:kms:cn-shanghai:{uid}:key/{local['KeyId']}"
    # A Shanghai ARN is not found from Hangzhou either.
    assert refusal(hangzhou, "DescribeKey", KeyId=local["Arn"]) == (404, "Forbidden.KeyNotFound")
    assert [k["KeyId"] for k in hangzhou.call("ListKeys")["Keys"]["Key"]] == [key["KeyId"]]
    assert [k["KeyArn"] for k in shanghai.call("ListKeys")["Keys"]["Key"]] == [local["Arn"]]
    assert describe(hangzhou, key["KeyId"])["Description"] == "hz"


def test_aliases_and_tags_are_isolated_per_region(kms_factory: KmsFactory, server: InProcessServer) -> None:
    hangzhou, beijing = kms_factory("cn-hangzhou"), kms_factory("cn-beijing")
    uid = account_uid(server, hangzhou)
    hz, bj = new_key(hangzhou), new_key(beijing)
    hangzhou.call("CreateAlias", AliasName="alias/app", KeyId=hz["KeyId"])
    assert refusal(beijing, "DescribeKey", KeyId="alias/app") == (404, "Forbidden.AliasNotFound")
    assert refusal(beijing, "CreateAlias", AliasName="alias/other", KeyId=hz["KeyId"]) == (
        404,
        "Forbidden.KeyNotFound",
    )
    # The same name is free in the other region and resolves there to that region's key.
    beijing.call("CreateAlias", AliasName="alias/app", KeyId=bj["KeyId"])
    assert describe(beijing, "alias/app")["KeyId"] == bj["KeyId"]
    assert describe(hangzhou, "alias/app")["KeyId"] == hz["KeyId"]
    [alias] = beijing.call("ListAliases")["Aliases"]["Alias"]
    assert alias["AliasArn"] == f"acs:kms:cn-beijing:{uid}:alias/app"

    hangzhou.call("TagResources", ResourceType="key", ResourceId=[hz["KeyId"]], Tag=[{"Key": "r", "Value": "hz"}])
    beijing.call("TagResources", ResourceType="key", ResourceId=[bj["KeyId"]], Tag=[{"Key": "r", "Value": "bj"}])
    rows = beijing.call("ListTagResources", ResourceType="key")["TagResources"]["TagResource"]
    assert [(r["ResourceId"], r["TagValue"]) for r in rows] == [(bj["KeyId"], "bj")]
    assert refusal(
        beijing, "TagResources", ResourceType="key", ResourceId=[hz["KeyId"]], Tag=[{"Key": "r", "Value": "x"}]
    ) == (404, "Forbidden.KeyNotFound")
    assert refusal(beijing, "ListResourceTags", KeyId=hz["KeyId"]) == (404, "Forbidden.KeyNotFound")


def test_unknown_region(kms_factory: KmsFactory) -> None:
    nowhere = kms_factory("xx-nowhere-1")
    assert refusal(nowhere, "ListKeys") == (400, "InvalidRegionId")
    assert refusal(nowhere, "CreateKey") == (400, "InvalidRegionId")
