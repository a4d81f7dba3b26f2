"""Aliases: create, list, list by key, update, delete, names, state rules (spec §3.3, §4.6; test plan 5)."""

from __future__ import annotations

import uuid

from tests.e2e.clients import Kms
from tests.e2e.keyutil import account_uid, describe, new_key, refusal
from tests.servers import InProcessServer


def test_alias_lifecycle(kms: Kms, server: InProcessServer) -> None:
    uid = account_uid(server, kms)
    first, second = new_key(kms), new_key(kms)
    created = kms.call("CreateAlias", AliasName="alias/test-1", KeyId=first["KeyId"])
    assert set(created) == {"RequestId"}
    kms.call("CreateAlias", AliasName="alias/team/a_b-2", KeyId=first["KeyId"])

    listed = kms.call("ListAliases")
    assert (listed["TotalCount"], listed["PageNumber"], listed["PageSize"]) == (2, 1, 10)
    assert sorted(listed["Aliases"]["Alias"], key=lambda a: a["AliasName"]) == [
        {
            "AliasName": "alias/team/a_b-2",
            "KeyId": first["KeyId"],
            "AliasArn": f"acs:kms:cn-hangzhou:{uid}:alias/team/a_b-2",
        },
        {"AliasName": "alias/test-1", "KeyId": first["KeyId"], "AliasArn": f"acs:kms:cn-hangzhou:{uid}:alias/test-1"},
    ]
    by_key = kms.call("ListAliasesByKeyId", KeyId=first["KeyId"])
    assert by_key["TotalCount"] == 2
    assert {a["AliasName"] for a in by_key["Aliases"]["Alias"]} == {"alias/test-1", "alias/team/a_b-2"}
    assert kms.call("ListAliasesByKeyId", KeyId=second["KeyId"])["Aliases"]["Alias"] == []
    assert describe(kms, "alias/test-1")["KeyId"] == first["KeyId"]

    # UpdateAlias points the name at another key.
    assert set(kms.call("UpdateAlias", AliasName="alias/test-1", KeyId=second["KeyId"])) == {"RequestId"}
    assert describe(kms, "alias/test-1")["KeyId"] == second["KeyId"]
    out = kms.call("Encrypt", KeyId="alias/test-1", Plaintext="p")
    assert out["KeyId"] == second["KeyId"]
    assert [a["AliasName"] for a in kms.call("ListAliasesByKeyId", KeyId=second["KeyId"])["Aliases"]["Alias"]] == [
        "alias/test-1"
    ]
    assert [a["AliasName"] for a in kms.call("ListAliasesByKeyId", KeyId=first["KeyId"])["Aliases"]["Alias"]] == [
        "alias/team/a_b-2"
    ]

    assert set(kms.call("DeleteAlias", AliasName="alias/test-1")) == {"RequestId"}
    assert refusal(kms, "DeleteAlias", AliasName="alias/test-1") == (404, "Forbidden.AliasNotFound")
    assert refusal(kms, "DescribeKey", KeyId="alias/test-1") == (404, "Forbidden.AliasNotFound")
    assert refusal(kms, "UpdateAlias", AliasName="alias/test-1", KeyId=first["KeyId"]) == (
        404,
        "Forbidden.AliasNotFound",
    )
    # Deleting an alias never touches its key.
    assert describe(kms, second["KeyId"])["KeyState"] == "Enabled"
    assert kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == "p"
    assert kms.call("ListAliases")["TotalCount"] == 1
    # The name can be used again.
    kms.call("CreateAlias", AliasName="alias/test-1", KeyId=first["KeyId"])
    assert describe(kms, "alias/test-1")["KeyId"] == first["KeyId"]


def test_alias_refusals(kms: Kms) -> None:
    key = new_key(kms)
    kid = key["KeyId"]
    kms.call("CreateAlias", AliasName="alias/dup", KeyId=kid)
    assert refusal(kms, "CreateAlias", AliasName="alias/dup", KeyId=new_key(kms)["KeyId"]) == (
        400,
        "AliasAlreadyExists",
    )
    bad_names = [
        "alias/acs",  # reserved prefix
        "alias/acs-x",
        "alias/acsfoo",
        "alias/ACS-upper",
        "test-1",  # no prefix
        "Alias/test",
        "alias/",  # nothing after the prefix
        "alias/bad name",
        "alias/bad!",
        "alias/bad.dot",
        "alias/ünïcode",
        "alias/" + "a" * 256,  # too long
    ]
    for name in bad_names:
        assert refusal(kms, "CreateAlias", AliasName=name, KeyId=kid) == (400, "InvalidParameter"), name
    longest = "alias/" + "a" * 255
    kms.call("CreateAlias", AliasName=longest, KeyId=kid)
    assert describe(kms, longest)["KeyId"] == kid

    assert refusal(kms, "CreateAlias", AliasName="alias/nokey", KeyId=str(uuid.uuid4())) == (
        404,
        "Forbidden.KeyNotFound",
    )
    assert refusal(kms, "CreateAlias", AliasName="alias/x") == (400, "MissingParameter")
    assert refusal(kms, "CreateAlias", KeyId=kid) == (400, "MissingParameter")
    assert refusal(kms, "DeleteAlias", AliasName="alias/never") == (404, "Forbidden.AliasNotFound")
    assert refusal(kms, "DeleteAlias") == (400, "MissingParameter")
    assert refusal(kms, "UpdateAlias", AliasName="alias/dup", KeyId=str(uuid.uuid4())) == (
        404,
        "Forbidden.KeyNotFound",
    )
    assert describe(kms, "alias/dup")["KeyId"] == kid  # a refused update changes nothing
    assert refusal(kms, "ListAliasesByKeyId", KeyId=str(uuid.uuid4())) == (404, "Forbidden.KeyNotFound")
    # Only the good ones were created.
    names = {a["AliasName"] for a in kms.call("ListAliases", PageSize=100)["Aliases"]["Alias"]}
    assert names == {"alias/dup", longest}


def test_alias_state_rules(kms: Kms) -> None:
    live, pending, disabled = new_key(kms), new_key(kms), new_key(kms)
    kms.call("CreateAlias", AliasName="alias/live", KeyId=live["KeyId"])
    kms.call("DisableKey", KeyId=disabled["KeyId"])
    kms.call("ScheduleKeyDeletion", KeyId=pending["KeyId"], PendingWindowInDays=7)

    assert refusal(kms, "CreateAlias", AliasName="alias/p", KeyId=pending["KeyId"]) == (
        409,
        "Rejected.StateModifiedFailed",
    )
    assert refusal(kms, "UpdateAlias", AliasName="alias/live", KeyId=pending["KeyId"]) == (
        409,
        "Rejected.PendingDeletion",
    )
    assert describe(kms, "alias/live")["KeyId"] == live["KeyId"]
    # A Disabled key takes aliases.
    kms.call("CreateAlias", AliasName="alias/d", KeyId=disabled["KeyId"])
    kms.call("UpdateAlias", AliasName="alias/live", KeyId=disabled["KeyId"])
    assert describe(kms, "alias/live")["KeyId"] == disabled["KeyId"]
    # Only the target's state matters: an alias can move away from a pending-deletion key.
    kms.call("CancelKeyDeletion", KeyId=pending["KeyId"])
    kms.call("CreateAlias", AliasName="alias/moving", KeyId=pending["KeyId"])
    kms.call("ScheduleKeyDeletion", KeyId=pending["KeyId"], PendingWindowInDays=7)
    kms.call("UpdateAlias", AliasName="alias/moving", KeyId=live["KeyId"])
    assert describe(kms, "alias/moving")["KeyId"] == live["KeyId"]
    # ListAliasesByKeyId works in every state.
    assert kms.call("ListAliasesByKeyId", KeyId=pending["KeyId"])["TotalCount"] == 0


def test_alias_pagination(kms: Kms) -> None:
    key = new_key(kms)
    names = [f"alias/p{i}" for i in range(5)]
    for name in names:
        kms.call("CreateAlias", AliasName=name, KeyId=key["KeyId"])
    pages = [kms.call("ListAliases", PageSize=2, PageNumber=n) for n in (1, 2, 3)]
    assert [len(p["Aliases"]["Alias"]) for p in pages] == [2, 2, 1]
    assert all(p["TotalCount"] == 5 for p in pages)
    assert sorted(a["AliasName"] for p in pages for a in p["Aliases"]["Alias"]) == names
    by_key = [kms.call("ListAliasesByKeyId", KeyId=key["KeyId"], PageSize=3, PageNumber=n) for n in (1, 2)]
    assert [len(p["Aliases"]["Alias"]) for p in by_key] == [3, 2]
    assert (by_key[1]["TotalCount"], by_key[1]["PageNumber"], by_key[1]["PageSize"]) == (5, 2, 3)
    assert refusal(kms, "ListAliases", PageSize=101) == (400, "InvalidParameter")
    assert refusal(kms, "ListAliasesByKeyId", KeyId=key["KeyId"], PageNumber=0) == (400, "InvalidParameter")
