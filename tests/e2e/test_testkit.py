"""The test kit as its users see it: the pytest plugin's ``openkms`` fixture (a dev server in a
thread), its clock, faults, reset and request log, and the official SDK against it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alibabacloud_kms20160120 import models
from darabonba.policy.retry import RetryOptions

from openkms.cli.remote import ControlClient, RemoteError
from openkms.domain.faults import PRESETS
from openkms.testing import OpenKms
from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error
from tests.e2e.test_import import external_key, import_material

DAY = 86_400


def sdk(kit: OpenKms) -> Kms:
    return Kms("new-v3", kit.endpoint, kit.access_key_id, kit.access_key_secret, kit.region_id)


def control_error(call: Any, *args: Any) -> RemoteError:
    with pytest.raises(RemoteError) as err:
        call(*args)
    return err.value


def test_the_client_fixture_is_a_ready_sdk_client(openkms_client: Any) -> None:
    key = openkms_client.create_key(models.CreateKeyRequest(description="fixture")).body.key_metadata
    assert key.description == "fixture"


def test_each_test_starts_empty_and_on_real_time(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    kms.call("CreateKey")
    openkms.clock.advance(days=3)
    openkms.faults.add(action="ListKeys", preset="deny")
    openkms.reset()
    assert kms.call("ListKeys")["TotalCount"] == 0  # the administrator pair still works; no fault
    assert abs(openkms.clock.now().timestamp() - time.time()) < 5
    assert openkms.faults.list() == []


def test_the_clock_moves_and_signed_requests_still_pass(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    before = openkms.clock.now()
    openkms.clock.advance(days=2, hours=1)
    moved = openkms.clock.now() - before
    assert timedelta(days=2, hours=1) <= moved < timedelta(days=2, hours=1, seconds=30)
    # The SDK signs with real time: the timestamp check does not follow the server's clock.
    key = kms.call("CreateKey")["KeyMetadata"]
    created = datetime.strptime(key["CreationDate"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert created > datetime.now(UTC) + timedelta(days=2)  # the server's time, not the client's
    target = datetime(2031, 1, 1, tzinfo=UTC)
    openkms.clock.set(target)
    assert abs((openkms.clock.now() - target).total_seconds()) < 5
    assert kms.call("ListKeys")["TotalCount"] == 1


def test_deletion_is_done_when_the_clock_passes_the_window(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    kms.call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    assert openkms.clock.advance(days=6)["Purged"] == []
    assert kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert openkms.clock.advance(days=1, minutes=1)["Purged"] == [key_id]
    expect_error(404, "Forbidden.KeyNotFound", kms, "DescribeKey", KeyId=key_id)


def test_rotation_follows_the_clock(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    key_id = kms.call("CreateKey", EnableAutomaticRotation=True, RotationInterval="7d")["KeyMetadata"]["KeyId"]
    assert openkms.clock.advance(days=6)["Rotated"] == []
    assert openkms.clock.advance(days=1, hours=1)["Rotated"] == [key_id]
    versions = kms.call("ListKeyVersions", KeyId=key_id)["KeyVersions"]["KeyVersion"]
    assert len(versions) == 2


def test_import_tokens_expire_with_the_clock(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    key_id = external_key(kms)
    params = kms.call("GetParametersForImport", KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                      WrappingKeySpec="RSA_2048")  # fmt: skip
    assert openkms.clock.advance(hours=25)["ImportTokensPurged"] == 1
    expect_error(400, "ExpiredImportToken", kms, "ImportKeyMaterial", KeyId=key_id,
                 ImportToken=params["ImportToken"], EncryptedKeyMaterial="AAAA")  # fmt: skip


def test_imported_material_expires_with_the_clock(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    key_id = external_key(kms)
    expire = int(openkms.clock.now().timestamp()) + 3600
    import_material(kms, key_id, b"\x01" * 32, KeyMaterialExpireUnix=expire)
    assert openkms.clock.advance(hours=2)["MaterialsExpired"] == [key_id]
    assert kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_fault_preset_is_the_error_the_sdk_sees(openkms: OpenKms, preset: str) -> None:
    kms = sdk(openkms)
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    rule = openkms.faults.add(action="Encrypt", preset=preset, count=1)
    assert rule["Count"] == 1
    error = PRESETS[preset]
    expect_error(error.status, error.code, kms, "Encrypt", KeyId=key_id, Plaintext="x")
    assert kms.call("Encrypt", KeyId=key_id, Plaintext="x")["KeyId"] == key_id  # the count is spent
    assert openkms.faults.list()[0]["Count"] == 0


def test_a_fault_of_any_table_with_a_code_of_ones_own(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    openkms.faults.add(action="DescribeRegions", code="Custom.Outage", http_status=502, message="down")
    err = expect_error(502, "Custom.Outage", kms, "DescribeRegions")
    assert "down" in err.message
    openkms.faults.clear()
    assert kms.call("DescribeRegions")["Regions"]


def test_faults_follow_their_account_probability_and_delay(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    openkms.faults.add(action="ListKeys", account="not-this-account", preset="internal")
    openkms.faults.add(action="ListKeys", preset="internal", probability=0.0)
    openkms.faults.add(action="ListKeys", delay=0.3)
    started = time.monotonic()
    assert kms.call("ListKeys")["TotalCount"] == 0
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"Action": "Encrypt"}, "needs a Preset"),
        ({"Preset": "slow"}, "Preset must be one of"),
        ({"Preset": "deny", "Probability": 2}, "Probability"),
        ({"Preset": "deny", "Count": 0}, "Count"),
        ({"Error": {"Code": "X", "HttpStatus": 200}}, "HttpStatus"),
        ({"Preset": "deny", "Error": {"Code": "X", "HttpStatus": 500}}, "not both"),
    ],
)
def test_a_bad_fault_rule_is_refused_with_its_reason(openkms: OpenKms, rule: dict[str, Any], reason: str) -> None:
    err = control_error(openkms.control.call, "POST", "/faults", rule)
    assert (err.status, err.code) == (400, "InvalidControl")
    assert reason in str(err)


def test_the_request_log_keeps_no_secret(openkms: OpenKms) -> None:
    kms = sdk(openkms)
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    kms.call("Encrypt", KeyId=key_id, Plaintext="the secret text")
    expect_error(404, "Forbidden.KeyNotFound", kms, "DescribeKey", KeyId="no-such-key")
    logged = openkms.requests(limit=3)
    assert [(r["Action"], r["HttpStatus"], r["Code"]) for r in logged] == [
        ("CreateKey", 200, "-"), ("Encrypt", 200, "-"), ("DescribeKey", 404, "Forbidden.KeyNotFound"),
    ]  # fmt: skip
    assert logged[1]["Parameters"]["KeyId"] == key_id
    assert "the secret text" not in repr(logged)
    assert all(r["LatencyMs"] > 0 and r["RequestId"] for r in logged)
    assert len(openkms.requests(limit=1)) == 1


def test_control_calls_are_signed_by_the_administrator(openkms: OpenKms) -> None:
    wrong = ControlClient(openkms.endpoint, openkms.access_key_id, "not-the-secret")
    assert control_error(wrong.call, "GET", "/clock").code == "SignatureDoesNotMatch"
    unknown = control_error(openkms.control.call, "GET", "/weather")
    assert (unknown.status, unknown.code) == (404, "InvalidControl.NotFound")


def test_the_sdks_own_retry_gets_past_a_throttle(openkms: OpenKms) -> None:
    retry = RetryOptions(
        {"retryable": True, "retryCondition": [{"errorCode": ["Rejected.Throttling"], "maxAttempts": 3}]}
    )
    client = openkms.client(retry_options=retry)
    openkms.faults.add(action="ListKeys", preset="throttle", count=2)
    assert client.list_keys(models.ListKeysRequest()).body.total_count == 0
    assert [r["Code"] for r in openkms.requests()] == ["Rejected.Throttling", "Rejected.Throttling", "-"]
