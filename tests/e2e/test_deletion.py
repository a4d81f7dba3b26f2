"""ScheduleKeyDeletion / CancelKeyDeletion, the PendingDeletion row of the state table, the purge
after the window, and SetDeletionProtection (spec §3.1, §4.3, §4.5; test plan items 16, 17)."""

from __future__ import annotations

import uuid

from tests.e2e.clients import Kms
from tests.e2e.keyutil import DAY, describe, epoch, new_key, refusal, tags_json, time_travel
from tests.servers import InProcessServer


def test_schedule_window_bounds_and_delete_date(kms: Kms, server: InProcessServer) -> None:
    key = new_key(kms)
    kid = key["KeyId"]
    for bad in (6, 367, 0, -7, "seven", "7.0"):
        assert refusal(kms, "ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=bad) == (400, "InvalidParameter"), bad
    assert describe(kms, kid)["KeyState"] == "Enabled"  # no refusal changed anything
    assert refusal(kms, "ScheduleKeyDeletion", PendingWindowInDays=7) == (400, "MissingParameter")
    assert refusal(kms, "ScheduleKeyDeletion", KeyId=str(uuid.uuid4()), PendingWindowInDays=7) == (
        404,
        "Forbidden.KeyNotFound",
    )

    for days in (7, 366):
        key = new_key(kms, EnableAutomaticRotation=True, RotationInterval="30d")
        before = int(server.clock.now())
        kms.call("ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=days)
        after = int(server.clock.now())
        meta = describe(kms, key["KeyId"])
        assert meta["KeyState"] == "PendingDeletion"
        assert before + days * DAY <= epoch(meta["DeleteDate"]) <= after + days * DAY
        assert meta["AutomaticRotation"] == "Suspended"

    # [INFERRED] without PendingWindowInDays the window is 30 days (the console default).
    key = new_key(kms)
    before = int(server.clock.now())
    kms.call("ScheduleKeyDeletion", KeyId=key["KeyId"])
    assert epoch(describe(kms, key["KeyId"])["DeleteDate"]) - before in range(30 * DAY, 30 * DAY + 5)


def test_pending_deletion_state_rules(kms: Kms) -> None:
    key = new_key(kms, Tags=tags_json({"t": "1"}))
    kid = key["KeyId"]
    other = new_key(kms)
    kms.call("CreateAlias", AliasName="alias/pd", KeyId=kid)
    kms.call("CreateAlias", AliasName="alias/elsewhere", KeyId=other["KeyId"])
    blob = kms.call("Encrypt", KeyId=kid, Plaintext="secret")["CiphertextBlob"]
    kms.call("ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=7)

    smf, pd = (409, "Rejected.StateModifiedFailed"), (409, "Rejected.PendingDeletion")
    principal = '"Principal":{"RAM":["acs:ram::1:*"]}'
    valid_key_policy = '{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*",' + principal + "}]}"
    refused = [
        ("EnableKey", {"KeyId": kid}, smf),
        ("DisableKey", {"KeyId": kid}, smf),
        ("ScheduleKeyDeletion", {"KeyId": kid, "PendingWindowInDays": 7}, smf),
        ("CreateAlias", {"AliasName": "alias/pd2", "KeyId": kid}, smf),
        ("UpdateAlias", {"AliasName": "alias/elsewhere", "KeyId": kid}, pd),
        ("UpdateKeyDescription", {"KeyId": kid, "Description": "x"}, pd),
        ("TagResource", {"KeyId": kid, "Tags": tags_json({"u": "2"})}, pd),
        ("UntagResource", {"KeyId": kid, "TagKeys": '["t"]'}, pd),
        ("SetDeletionProtection", {"ProtectedResourceArn": key["Arn"], "EnableDeletionProtection": True}, pd),
        (
            "SetKeyPolicy",
            {"KeyId": kid, "PolicyName": "default", "Policy": valid_key_policy},
            pd,
        ),
        ("Encrypt", {"KeyId": kid, "Plaintext": "x"}, pd),
        ("Decrypt", {"CiphertextBlob": blob}, pd),
        ("GenerateDataKey", {"KeyId": kid}, pd),
    ]
    for action, params, expected in refused:
        assert refusal(kms, action, **params) == expected, action

    # Reads work in every state; nothing above changed the key.
    meta = describe(kms, kid)
    assert (meta["KeyState"], meta["Description"], meta["DeletionProtection"]) == ("PendingDeletion", "", "Disabled")
    assert [a["AliasName"] for a in kms.call("ListAliasesByKeyId", KeyId=kid)["Aliases"]["Alias"]] == ["alias/pd"]
    assert kms.call("ListResourceTags", KeyId=kid)["Tags"]["Tag"] == [{"KeyId": kid, "TagKey": "t", "TagValue": "1"}]
    assert kms.call("GetKeyPolicy", KeyId=kid)["Policy"]
    assert describe(kms, "alias/elsewhere")["KeyId"] == other["KeyId"]
    assert kid in {k["KeyId"] for k in kms.call("ListKeys")["Keys"]["Key"]}
    kms.call("DeleteAlias", AliasName="alias/pd")  # allowed in every state

    kms.call("CancelKeyDeletion", KeyId=kid)
    meta = describe(kms, kid)
    assert (meta["KeyState"], meta["DeleteDate"]) == ("Enabled", "")
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "secret"
    assert refusal(kms, "CancelKeyDeletion", KeyId=kid) == smf  # second cancel
    kms.call("DisableKey", KeyId=kid)
    assert refusal(kms, "CancelKeyDeletion", KeyId=kid) == smf  # Disabled, not pending


def test_cancel_returns_a_disabled_key_to_enabled(kms: Kms) -> None:
    kid = new_key(kms)["KeyId"]
    kms.call("DisableKey", KeyId=kid)
    kms.call("ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=7)
    kms.call("CancelKeyDeletion", KeyId=kid)
    assert describe(kms, kid)["KeyState"] == "Enabled"
    assert refusal(kms, "CancelKeyDeletion", KeyId=str(uuid.uuid4())) == (404, "Forbidden.KeyNotFound")


def test_purge_after_the_window(kms: Kms, server: InProcessServer) -> None:
    doomed = new_key(kms, Tags=tags_json({"a": "1", "b": "2"}), EnableAutomaticRotation=True, RotationInterval="30d")
    kept = new_key(kms)
    kid = doomed["KeyId"]
    kms.call("CreateAlias", AliasName="alias/doomed", KeyId=kid)
    kms.call("CreateAlias", AliasName="alias/kept", KeyId=kept["KeyId"])
    blob = kms.call("Encrypt", KeyId=kid, Plaintext="bye")["CiphertextBlob"]
    kms.call("ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=7)
    delete_at = epoch(describe(kms, kid)["DeleteDate"])
    store = server.runtime.store

    def stored() -> tuple[bool, int, int, int]:
        with store.read() as uow:
            key = uow.keys.get(doomed["Arn"].split(":")[3], "cn-hangzhou", kid)
            return (
                key is not None,
                len(uow.versions.list_for_key(kid)),
                len(uow.aliases.list_for_key(kid)),
                len(uow.tags.for_key(kid)),
            )

    # One second before the window ends the key is still there, pending deletion.
    with time_travel(server, delete_at - server.clock.now() - 1):
        assert describe(kms, kid)["KeyState"] == "PendingDeletion"

    with time_travel(server, delete_at - server.clock.now() + 1):
        # Gone for every caller the moment the window ends, before any purge job ran.
        assert stored() == (True, 1, 1, 2)
        assert refusal(kms, "DescribeKey", KeyId=kid) == (404, "Forbidden.KeyNotFound")
        assert refusal(kms, "DescribeKey", KeyId=doomed["Arn"]) == (404, "Forbidden.KeyNotFound")
        assert refusal(kms, "DescribeKey", KeyId="alias/doomed") == (404, "Forbidden.AliasNotFound")
        assert refusal(kms, "CancelKeyDeletion", KeyId=kid) == (404, "Forbidden.KeyNotFound")
        assert refusal(kms, "ListResourceTags", KeyId=kid) == (404, "Forbidden.KeyNotFound")
        assert refusal(kms, "Decrypt", CiphertextBlob=blob) == (404, "Forbidden.KeyNotFound")
        assert [k["KeyId"] for k in kms.call("ListKeys")["Keys"]["Key"]] == [kept["KeyId"]]
        assert [a["AliasName"] for a in kms.call("ListAliases")["Aliases"]["Alias"]] == ["alias/kept"]

        report = server.services.scheduler.run_once()
        assert kid in report.purged
        assert kept["KeyId"] not in report.purged
        assert kid not in report.rotated  # a pending-deletion key is never rotated
        assert stored() == (False, 0, 0, 0)
        assert kid not in server.services.scheduler.run_once().purged  # idempotent

        # The alias name is free again; the other key is untouched.
        kms.call("CreateAlias", AliasName="alias/doomed", KeyId=kept["KeyId"])
        assert describe(kms, "alias/doomed")["KeyId"] == kept["KeyId"]
        assert describe(kms, "alias/kept")["KeyState"] == "Enabled"
        assert refusal(kms, "Decrypt", CiphertextBlob=blob) == (404, "Forbidden.KeyNotFound")


def test_deletion_protection(kms: Kms) -> None:
    key = new_key(kms)
    kid, arn = key["KeyId"], key["Arn"]
    # The old SDK has no KeyId setter: it names the key by ProtectedResourceArn only.
    target = {"ProtectedResourceArn": arn} if kms.mode == "old" else {"ProtectedResourceArn": arn, "KeyId": kid}
    kms.call("SetDeletionProtection", EnableDeletionProtection=True, DeletionProtectionDescription="prod key", **target)
    meta = describe(kms, kid)
    assert (meta["DeletionProtection"], meta["DeletionProtectionDescription"]) == ("Enabled", "prod key")

    assert refusal(kms, "ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=7) == (
        403,
        "Forbidden.DeletionProtection",
    )
    assert describe(kms, kid)["KeyState"] == "Enabled"
    # Protection does not block disabling.
    kms.call("DisableKey", KeyId=kid)
    assert refusal(kms, "ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=7) == (
        403,
        "Forbidden.DeletionProtection",
    )

    kms.call("SetDeletionProtection", EnableDeletionProtection=False, **target)
    meta = describe(kms, kid)
    assert (meta["DeletionProtection"], meta["DeletionProtectionDescription"]) == ("Disabled", "")
    kms.call("ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=7)
    assert describe(kms, kid)["KeyState"] == "PendingDeletion"


def test_deletion_protection_refusals(kms: Kms) -> None:
    key = new_key(kms)
    foreign = key["Arn"].replace("cn-hangzhou", "cn-beijing")
    assert refusal(kms, "SetDeletionProtection", EnableDeletionProtection=True) == (400, "MissingParameter")
    assert refusal(kms, "SetDeletionProtection", ProtectedResourceArn=key["Arn"]) == (400, "MissingParameter")
    assert refusal(kms, "SetDeletionProtection", ProtectedResourceArn=key["Arn"], EnableDeletionProtection="yes") == (
        400,
        "InvalidParameter",
    )
    assert refusal(kms, "SetDeletionProtection", ProtectedResourceArn=foreign, EnableDeletionProtection=True) == (
        404,
        "Forbidden.KeyNotFound",
    )
    too_long = {"ProtectedResourceArn": key["Arn"], "DeletionProtectionDescription": "d" * 8193}
    assert refusal(kms, "SetDeletionProtection", EnableDeletionProtection=True, **too_long) == (
        400,
        "InvalidParameter",
    )
    assert describe(kms, key["KeyId"])["DeletionProtection"] == "Disabled"


def test_pending_import_state_rules(kms: Kms) -> None:
    """The PendingImport column of the state table, for the key-management actions."""
    key = new_key(kms, Origin="EXTERNAL")
    kid = key["KeyId"]
    meta = describe(kms, kid)
    assert (meta["KeyState"], meta["PrimaryKeyVersion"], meta["LastRotationDate"]) == ("PendingImport", "", "")
    smf = (409, "Rejected.StateModifiedFailed")
    assert refusal(kms, "EnableKey", KeyId=kid) == smf
    assert refusal(kms, "DisableKey", KeyId=kid) == smf
    assert refusal(kms, "CancelKeyDeletion", KeyId=kid) == smf
    kms.call("UpdateKeyDescription", KeyId=kid, Description="byok")
    kms.call("TagResource", KeyId=kid, Tags=tags_json({"t": "1"}))
    kms.call("UntagResource", KeyId=kid, TagKeys="t")
    kms.call("CreateAlias", AliasName="alias/byok", KeyId=kid)
    kms.call("SetDeletionProtection", ProtectedResourceArn=key["Arn"], EnableDeletionProtection=False)
    kms.call("ScheduleKeyDeletion", KeyId=kid, PendingWindowInDays=7)
    assert describe(kms, "alias/byok")["KeyState"] == "PendingDeletion"
    # [INFERRED] a key without material goes back to PendingImport, not Enabled.
    kms.call("CancelKeyDeletion", KeyId=kid)
    meta = describe(kms, kid)
    assert (meta["KeyState"], meta["DeleteDate"], meta["Description"]) == ("PendingImport", "", "byok")


def test_alias_of_a_key_past_its_window_is_gone_before_the_purge(server: InProcessServer, kms: Kms) -> None:
    old = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    kms.call("CreateAlias", AliasName="alias/reused", KeyId=old)
    kms.call("ScheduleKeyDeletion", KeyId=old, PendingWindowInDays=7)
    with time_travel(server, 7 * DAY + 1):
        assert refusal(kms, "DescribeKey", KeyId="alias/reused") == (404, "Forbidden.AliasNotFound")
        new = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
        kms.call("CreateAlias", AliasName="alias/reused", KeyId=new)  # the name is free again
        assert describe(kms, "alias/reused")["KeyId"] == new
