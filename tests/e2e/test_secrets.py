"""Secrets Manager through both generations of the official 2016-01-20 SDK (new V3, new V2, old):
every action, the version and stage rules, deletion and restore, the key's state, and every
refusal with its code."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from openkms.domain.secrets import DAY
from tests.audit_support import events
from tests.e2e.clients import ApiError, Kms
from tests.servers import InProcessServer


def _name() -> str:
    return f"db-{os.urandom(5).hex()}"


def _refused(kms: Kms, action: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        kms.call(action, **params)
    return caught.value


def _create(kms: Kms, name: str, data: str = "s3cret-v1", **params: Any) -> dict[str, Any]:
    return kms.call("CreateSecret", SecretName=name, VersionId="v1", SecretData=data, **params)


def _stages(body: dict[str, Any]) -> list[str]:
    return list(body["VersionStages"]["VersionStage"])


def test_create_then_get_the_value(kms: Kms) -> None:
    name = _name()
    made = _create(kms, name, Description="the orders database")
    assert made["SecretName"] == name
    assert made["Arn"].startswith("acs:kms:cn-hangzhou:")
    assert made["Arn"].endswith(f":secret/{name}")
    assert made["VersionId"] == "v1"
    got = kms.call("GetSecretValue", SecretName=name)
    assert (got["SecretData"], got["SecretDataType"], got["VersionId"]) == ("s3cret-v1", "text", "v1")
    assert _stages(got) == ["ACSCurrent"]
    assert got["SecretType"] == "Generic"
    assert kms.call("GetSecretValue", SecretName=made["Arn"])["SecretData"] == "s3cret-v1"  # by ARN too


def test_a_secret_without_a_key_uses_the_service_managed_key(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    key_id = kms.call("DescribeSecret", SecretName=name)["EncryptionKeyId"]
    key = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert key["Description"] == "Service-managed key for Secrets Manager"
    other = _name()
    _create(kms, other)
    assert kms.call("DescribeSecret", SecretName=other)["EncryptionKeyId"] == key_id  # one per account and region


def test_binary_data_comes_back_as_the_base64_sent(kms: Kms) -> None:
    name = _name()
    data = base64.b64encode(bytes(range(256))).decode()
    _create(kms, name, data, SecretDataType="binary")
    got = kms.call("GetSecretValue", SecretName=name)
    assert (got["SecretData"], got["SecretDataType"]) == (data, "binary")


def test_put_moves_current_and_previous(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    put = kms.call("PutSecretValue", SecretName=name, VersionId="v2", SecretData="s3cret-v2")
    assert (put["VersionId"], _stages(put)) == ("v2", ["ACSCurrent"])
    assert kms.call("GetSecretValue", SecretName=name)["SecretData"] == "s3cret-v2"
    previous = kms.call("GetSecretValue", SecretName=name, VersionStage="ACSPrevious")
    assert (previous["VersionId"], previous["SecretData"]) == ("v1", "s3cret-v1")
    kms.call("PutSecretValue", SecretName=name, VersionId="v3", SecretData="s3cret-v3")
    listed = kms.call("ListSecretVersionIds", SecretName=name)["VersionIds"]["VersionId"]
    assert {v["VersionId"]: v["VersionStages"]["VersionStage"] for v in listed} == {
        "v2": ["ACSPrevious"],
        "v3": ["ACSCurrent"],
    }
    everything = kms.call("ListSecretVersionIds", SecretName=name, IncludeDeprecated="true")
    assert {v["VersionId"] for v in everything["VersionIds"]["VersionId"]} == {"v1", "v2", "v3"}
    assert kms.call("GetSecretValue", SecretName=name, VersionId="v1")["SecretData"] == "s3cret-v1"


def test_a_version_id_is_idempotent_with_the_same_data_and_refused_with_other_data(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    kms.call("PutSecretValue", SecretName=name, VersionId="v2", SecretData="two")
    again = kms.call("PutSecretValue", SecretName=name, VersionId="v2", SecretData="two")
    assert again["VersionId"] == "v2"
    assert _refused(kms, "PutSecretValue", SecretName=name, VersionId="v2", SecretData="other").code == (
        "Rejected.ResourceExist"
    )
    assert _refused(kms, "PutSecretValue", SecretName=name, VersionId="v1", SecretData="other").code == (
        "Rejected.ResourceExist"
    )


def test_custom_stages_move_and_leave(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    kms.call("PutSecretValue", SecretName=name, VersionId="v2", SecretData="two", VersionStages='["canary"]')
    assert kms.call("GetSecretValue", SecretName=name)["VersionId"] == "v1"  # ACSCurrent stayed
    assert kms.call("GetSecretValue", SecretName=name, VersionStage="canary")["SecretData"] == "two"
    kms.call(
        "UpdateSecretVersionStage", SecretName=name, VersionStage="ACSCurrent", MoveToVersion="v2",
        RemoveFromVersion="v1",
    )  # fmt: skip
    got = kms.call("GetSecretValue", SecretName=name)
    assert (got["VersionId"], sorted(_stages(got))) == ("v2", ["ACSCurrent", "canary"])
    assert kms.call("GetSecretValue", SecretName=name, VersionStage="ACSPrevious")["VersionId"] == "v1"
    kms.call("UpdateSecretVersionStage", SecretName=name, VersionStage="canary", RemoveFromVersion="v2")
    assert _refused(kms, "GetSecretValue", SecretName=name, VersionStage="canary").code == "Forbidden.ResourceNotFound"
    refused = _refused(kms, "UpdateSecretVersionStage", SecretName=name, VersionStage="ACSCurrent",
                       RemoveFromVersion="v2")  # fmt: skip
    assert refused.code == "InvalidParameter"  # ACSCurrent is moved, never removed
    refused = _refused(kms, "UpdateSecretVersionStage", SecretName=name, VersionStage="ACSCurrent", MoveToVersion="v1")
    assert refused.code == "MissingParameter"  # where it leaves must be said


def test_at_most_ten_versions_the_oldest_unstaged_go(kms: Kms, server: InProcessServer) -> None:
    name = _name()
    _create(kms, name)
    for i in range(2, 13):
        server.clock.advance(1)  # "oldest" is by creation time (to the second)
        kms.call("PutSecretValue", SecretName=name, VersionId=f"v{i}", SecretData=f"d{i}")
    listed = kms.call("ListSecretVersionIds", SecretName=name, IncludeDeprecated="true", PageSize="50")
    assert listed["TotalCount"] == 10
    assert {"v1", "v2"}.isdisjoint(v["VersionId"] for v in listed["VersionIds"]["VersionId"])


def test_describe_list_and_update(kms: Kms) -> None:
    name = _name()
    _create(kms, name, Description="first", Tags=json.dumps([{"TagKey": "team", "TagValue": "db"}]))
    described = kms.call("DescribeSecret", SecretName=name, FetchTags="true")
    assert (described["Description"], described["SecretType"]) == ("first", "Generic")
    assert described["Tags"]["Tag"] == [{"TagKey": "team", "TagValue": "db"}]
    kms.call("UpdateSecret", SecretName=name, Description="second")
    assert kms.call("DescribeSecret", SecretName=name)["Description"] == "second"
    other = _name()
    _create(kms, other)
    listed = kms.call("ListSecrets", PageSize="50")
    assert {name, other} <= {s["SecretName"] for s in listed["SecretList"]["Secret"]}
    filtered = kms.call("ListSecrets", Filters=json.dumps([{"Key": "TagKey", "Values": ["team"]}]))
    assert [s["SecretName"] for s in filtered["SecretList"]["Secret"]] == [name]
    assert filtered["TotalCount"] == 1
    page = kms.call("ListSecrets", PageSize="1", PageNumber="2")
    assert (page["PageNumber"], page["PageSize"], len(page["SecretList"]["Secret"])) == (2, 1, 1)


def test_a_managed_type_keeps_its_config_and_rotation_policy(kms: Kms) -> None:
    name = _name()
    config = {"SecretSubType": "SingleUser", "DBInstanceId": "rm-1", "CustomData": {}}
    made = _create(kms, name, SecretType="Rds", ExtendedConfig=config,
                   EnableAutomaticRotation="true", RotationInterval="7d")  # fmt: skip
    assert (made["AutomaticRotation"], made["RotationInterval"]) == ("Enabled", f"{7 * DAY}s")
    got = kms.call("GetSecretValue", SecretName=name, FetchExtendedConfig="true")
    assert json.loads(got["ExtendedConfig"]) == config
    kms.call("UpdateSecretRotationPolicy", SecretName=name, EnableAutomaticRotation="false")
    assert kms.call("DescribeSecret", SecretName=name)["AutomaticRotation"] == "Disabled"
    refused = _refused(kms, "RotateSecret", SecretName=name, VersionId="v2")
    assert refused.code == "Rejected.UnsupportedOperation"  # no [secrets] rotation_hosts here
    assert _refused(kms, "PutSecretValue", SecretName=name, VersionId="v2", SecretData="x").code == (
        "Rejected.UnsupportedOperation"
    )


def test_a_generic_secret_is_not_rotated_by_rotate_secret(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    assert _refused(kms, "RotateSecret", SecretName=name, VersionId="v2").code == "Rejected.UnsupportedOperation"
    refused = _refused(kms, "UpdateSecretRotationPolicy", SecretName=name, EnableAutomaticRotation="true",
                       RotationInterval="7d")  # fmt: skip
    assert refused.code == "Rejected.UnsupportedOperation"


def test_policy_round_trip(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    default = json.loads(kms.call("GetSecretPolicy", SecretName=name, PolicyName="default")["Policy"])
    assert default["Version"] == "1"
    statement = {"Effect": "Allow", "Principal": {"RAM": ["acs:ram::1:user/x"]}, "Action": ["kms:GetSecretValue"],
                 "Resource": ["*"]}  # fmt: skip
    policy = json.dumps({"Version": "1", "Statement": [statement]})
    kms.call("SetSecretPolicy", SecretName=name, PolicyName="default", Policy=policy)
    assert json.loads(kms.call("GetSecretPolicy", SecretName=name)["Policy"]) == json.loads(policy)


def test_delete_restore_and_purge(kms: Kms, server: InProcessServer) -> None:
    name = _name()
    _create(kms, name)
    deleted = kms.call("DeleteSecret", SecretName=name, RecoveryWindowInDays="7")
    assert deleted["PlannedDeleteTime"]
    assert _refused(kms, "GetSecretValue", SecretName=name).code == "Rejected.PendingDeletion"
    assert kms.call("DescribeSecret", SecretName=name)["PlannedDeleteTime"] == deleted["PlannedDeleteTime"]
    kms.call("RestoreSecret", SecretName=name)
    assert kms.call("GetSecretValue", SecretName=name)["SecretData"] == "s3cret-v1"
    assert _refused(kms, "RestoreSecret", SecretName=name).code == "Rejected.StateModifiedFailed"
    kms.call("DeleteSecret", SecretName=name, RecoveryWindowInDays="7")
    server.clock.advance(7 * DAY + 1)
    report = server.services.scheduler.run_once()
    assert any(p.endswith(f"/{name}") for p in report.secrets_purged)
    trail = b"".join(p.read_bytes() for p in (server.data_dir / "audit").rglob("*") if p.is_file())
    purge = [line for line in trail.splitlines() if b'"eventName":"DeleteSecret"' in line and name.encode() in line]
    assert any(b'"eventType":"AliyunServiceEvent"' in line for line in purge)  # the scheduler's own event
    assert _refused(kms, "DescribeSecret", SecretName=name).code == "Forbidden.ResourceNotFound"
    _create(kms, name, "reborn")  # the name is free again
    assert kms.call("GetSecretValue", SecretName=name)["SecretData"] == "reborn"


def test_force_delete_frees_the_name_at_once(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    kms.call("DeleteSecret", SecretName=name, ForceDeleteWithoutRecovery="true")
    assert _refused(kms, "GetSecretValue", SecretName=name).code == "Forbidden.ResourceNotFound"
    _create(kms, name)


def test_a_disabled_key_makes_reads_fail_until_enabled(kms: Kms) -> None:
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    name = _name()
    _create(kms, name, EncryptionKeyId=key_id)
    assert kms.call("DescribeSecret", SecretName=name)["EncryptionKeyId"] == key_id
    kms.call("DisableKey", KeyId=key_id)
    assert _refused(kms, "GetSecretValue", SecretName=name).code == "Rejected.Disabled"
    assert _refused(kms, "PutSecretValue", SecretName=name, VersionId="v2", SecretData="x").code == "Rejected.Disabled"
    kms.call("EnableKey", KeyId=key_id)
    assert kms.call("GetSecretValue", SecretName=name)["SecretData"] == "s3cret-v1"
    kms.call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays="7")
    assert _refused(kms, "GetSecretValue", SecretName=name).code == "Rejected.PendingDeletion"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"SecretName": "bad name!"}, "InvalidParameter"),
        ({"VersionId": "bad id!"}, "InvalidParameter"),
        ({"SecretData": "x" * 30_721}, "InvalidParameter"),
        ({"SecretDataType": "binary", "SecretData": "not base64!"}, "InvalidParameter"),
        ({"SecretDataType": "json"}, "InvalidParameter"),
        ({"SecretType": "Mongo"}, "InvalidParameter"),
        ({"SecretType": "Rds"}, "MissingParameter"),  # a managed type needs its ExtendedConfig
        ({"EncryptionKeyId": "00000000-0000-0000-0000-000000000000"}, "Forbidden.KeyNotFound"),
        ({"EnableAutomaticRotation": "true", "RotationInterval": "7d"}, "InvalidParameter"),  # Generic
        (
            {
                "SecretType": "Rds",
                "ExtendedConfig": {"a": "b"},
                "EnableAutomaticRotation": "true",
                "RotationInterval": "1h",
            },
            "InvalidParameter",
        ),
    ],
)
def test_create_refusals(kms: Kms, params: dict[str, Any], code: str) -> None:
    request = {"SecretName": _name(), "VersionId": "v1", "SecretData": "x", **params}
    assert _refused(kms, "CreateSecret", **request).code == code


def test_more_refusals(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    assert _refused(kms, "CreateSecret", SecretName=name, VersionId="v9", SecretData="x").code == (
        "Rejected.ResourceExist"
    )
    error = _refused(kms, "GetSecretValue", SecretName="no-such-secret")
    assert (error.code, error.status) == ("Forbidden.ResourceNotFound", 404)
    assert _refused(kms, "GetSecretValue", SecretName=name, VersionId="nope").code == "Forbidden.ResourceNotFound"
    assert _refused(kms, "GetSecretValue", SecretName=name, VersionId="v1", VersionStage="ACSPrevious").code == (
        "InvalidParameter"
    )
    assert _refused(kms, "DeleteSecret", SecretName=name, RecoveryWindowInDays="6").code == "InvalidParameter"
    assert _refused(kms, "DeleteSecret", SecretName=name, RecoveryWindowInDays="31").code == "InvalidParameter"
    assert _refused(kms, "GetSecretPolicy", SecretName=name, PolicyName="other").code == "InvalidParameter"
    assert _refused(kms, "ListSecrets", Filters='[{"Key":"KeyState","Values":["x"]}]').code == "InvalidParameter"
    stages = json.dumps([f"s{i}" for i in range(8)])
    assert _refused(kms, "PutSecretValue", SecretName=name, VersionId="v2", SecretData="x",
                    VersionStages=stages).code == "InvalidParameter"  # fmt: skip
    foreign = f"acs:kms:cn-hangzhou:1234:secret/{name}"
    assert _refused(kms, "GetSecretValue", SecretName=foreign).code == "Forbidden.ResourceNotFound"


def test_batch_get_secret_value(kms: Kms) -> None:
    # The old SDK has no BatchGetSecretValue (3.x added it): it is sent as the old SDK's CommonRequest.
    first, second = _name(), _name()
    _create(kms, first, "one")
    _create(kms, second, "two")
    body = kms.call("BatchGetSecretValue", SecretsList=[{"SecretName": first}, {"SecretName": second},
                                                         {"SecretName": "missing"}])  # fmt: skip
    assert {v["SecretName"]: v["SecretData"] for v in body["SecretValues"]} == {first: "one", second: "two"}
    assert [(e["SecretName"], e["Code"]) for e in body["Errors"]] == [("missing", "Forbidden.ResourceNotFound")]


def test_tags_on_secrets_through_the_tag_actions(kms: Kms) -> None:
    name = _name()
    _create(kms, name)
    kms.call("TagResource", SecretName=name, Tags=json.dumps([{"TagKey": "team", "TagValue": "db"}]))
    listed = kms.call("DescribeSecret", SecretName=name, FetchTags="true")["Tags"]["Tag"]
    assert [(t["TagKey"], t["TagValue"]) for t in listed] == [("team", "db")]
    kms.call("UntagResource", SecretName=name, TagKeys='["team"]')
    assert kms.call("DescribeSecret", SecretName=name, FetchTags="true")["Tags"].get("Tag", []) == []
    kms.call("TagResources", ResourceType="secret", ResourceId=[name], Tag=[{"Key": "env", "Value": "prod"}])
    rows = kms.call("ListTagResources", ResourceType="secret", ResourceId=[name])["TagResources"]["TagResource"]
    assert [(r["ResourceId"], r["ResourceType"], r["TagKey"]) for r in rows] == [(name, "secret", "env")]
    assert kms.call("DescribeSecret", SecretName=name, FetchTags="true")["Tags"]["Tag"] == [
        {"TagKey": "env", "TagValue": "prod"}
    ]
    kms.call("UntagResources", ResourceType="secret", ResourceId=[name], All=True)
    assert (
        kms.call("ListTagResources", ResourceType="secret", ResourceId=[name])["TagResources"].get("TagResource", [])
        == []
    )


def test_the_audit_event_names_the_secret_and_its_key(kms: Kms, server: InProcessServer) -> None:
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    name = _name()
    _create(kms, name, EncryptionKeyId=key_id)
    kms.call("GetSecretValue", SecretName=name)
    found = events(server.data_dir / "audit")
    mine = [e for e in found if e["eventName"] == "GetSecretValue" and e["requestParameters"].get("SecretName") == name]
    assert mine[-1]["referencedResources"] == {"ACS::KMS::Key": [key_id], "ACS::KMS::Secret": [name]}
    assert "SecretData" not in mine[-1]["responseElements"]
    assert mine[-1]["responseElements"]["VersionId"] == "v1"
