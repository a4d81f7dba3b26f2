"""Rotation policy, automatic rotation by the scheduler, and key versions (spec 3.2, 4.4; test plan
9, 18). Time moves by the server's injectable clock, never by sleeping.

This module runs its own server: moving the clock days ahead must not disturb the keys of other
modules (their deletion windows, their rotation dates). Signatures are checked against the real
clock, so the SDKs keep working while the domain clock is ahead.
"""

from __future__ import annotations

import calendar
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error
from tests.servers import InProcessServer, inprocess_server

DAY = 86_400
WEEK = 7 * DAY


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(Path(tmp_path_factory.mktemp("rotation")) / "data") as srv:
        yield srv


def parse(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def describe(kms: Kms, key_id: str) -> dict[str, Any]:
    meta: dict[str, Any] = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    return meta


def versions(kms: Kms, key_id: str, **page: int) -> dict[str, Any]:
    out: dict[str, Any] = kms.call("ListKeyVersions", KeyId=key_id, **page)
    return out


def run_scheduler(server: InProcessServer) -> tuple[str, ...]:
    rotated: tuple[str, ...] = server.services.scheduler.run_once().rotated
    return rotated


def test_update_rotation_policy_is_reflected_by_describe_key(kms: Kms) -> None:
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    meta = describe(kms, key_id)
    assert (meta["AutomaticRotation"], meta["RotationInterval"], meta["NextRotationDate"]) == ("Disabled", "", "")

    assert kms.call("UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=True, RotationInterval="7d")[
        "RequestId"
    ]
    meta = describe(kms, key_id)
    assert (meta["AutomaticRotation"], meta["RotationInterval"]) == ("Enabled", "604800s")
    assert parse(meta["NextRotationDate"]) == parse(meta["LastRotationDate"]) + WEEK

    # Other spellings of an interval, normalised to seconds.
    for text, seconds in (("168h", WEEK), ("730d", 730 * DAY), ("2592000s", 30 * DAY), ("20160m", 2 * WEEK)):
        kms.call("UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=True, RotationInterval=text)
        assert describe(kms, key_id)["RotationInterval"] == f"{seconds}s"

    kms.call("UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=False)
    meta = describe(kms, key_id)
    assert (meta["AutomaticRotation"], meta["RotationInterval"], meta["NextRotationDate"]) == ("Disabled", "", "")


def test_rotation_policy_validation(kms: Kms) -> None:
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    for bad in ("3d", "6d", "604799s", "731d", "7", "7w", "d7", "-7d", "seven days"):
        err = expect_error(
            400, "InvalidParameter", kms, "UpdateRotationPolicy", KeyId=key_id,
            EnableAutomaticRotation=True, RotationInterval=bad,
        )  # fmt: skip
        assert "RotationInterval" in err.message, bad
    expect_error(400, "MissingParameter", kms, "UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=True)
    expect_error(
        400, "InvalidParameter", kms, "UpdateRotationPolicy", KeyId=key_id,
        EnableAutomaticRotation="maybe", RotationInterval="7d",
    )  # fmt: skip
    # Turning rotation off ignores any interval sent along.
    kms.call("UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=False, RotationInterval="3d")
    expect_error(400, "MissingParameter", kms, "UpdateRotationPolicy", KeyId=key_id)
    missing = str(uuid.uuid4())
    expect_error(
        404, "Forbidden.KeyNotFound", kms, "UpdateRotationPolicy", KeyId=missing, EnableAutomaticRotation=False
    )
    assert describe(kms, key_id)["AutomaticRotation"] == "Disabled"  # nothing half-written


def test_rotation_is_suspended_while_the_key_is_disabled(kms: Kms) -> None:
    key_id = kms.call("CreateKey", EnableAutomaticRotation=True, RotationInterval="30d")["KeyMetadata"]["KeyId"]
    assert describe(kms, key_id)["AutomaticRotation"] == "Enabled"
    kms.call("DisableKey", KeyId=key_id)
    meta = describe(kms, key_id)
    assert (meta["AutomaticRotation"], meta["RotationInterval"]) == ("Suspended", "2592000s")
    assert meta["NextRotationDate"]
    expect_error(
        409, "Rejected.Disabled", kms, "UpdateRotationPolicy", KeyId=key_id,
        EnableAutomaticRotation=True, RotationInterval="7d",
    )  # fmt: skip
    kms.call("EnableKey", KeyId=key_id)
    assert describe(kms, key_id)["AutomaticRotation"] == "Enabled"
    kms.call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    assert describe(kms, key_id)["AutomaticRotation"] == "Suspended"
    expect_error(
        409, "Rejected.PendingDeletion", kms, "UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=False
    )
    kms.call("CancelKeyDeletion", KeyId=key_id)
    assert describe(kms, key_id)["AutomaticRotation"] == "Enabled"


def test_scheduler_rotates_a_due_key_and_old_ciphertexts_still_decrypt(server: InProcessServer, kms: Kms) -> None:
    meta = kms.call("CreateKey", EnableAutomaticRotation=True, RotationInterval="7d")["KeyMetadata"]
    key_id, first = meta["KeyId"], meta["PrimaryKeyVersion"]
    old_blob = kms.call("Encrypt", KeyId=key_id, Plaintext="before rotation", EncryptionContext={"a": "1"})
    old_dk = kms.call("GenerateDataKey", KeyId=key_id)
    assert old_blob["KeyVersionId"] == first

    # Not yet due: nothing happens.
    server.clock.advance(WEEK - 60)
    assert key_id not in run_scheduler(server)
    assert describe(kms, key_id)["PrimaryKeyVersion"] == first

    server.clock.advance(61)
    assert key_id in run_scheduler(server)
    assert key_id not in run_scheduler(server)  # once per due date, not once per run
    rotated = describe(kms, key_id)
    second = rotated["PrimaryKeyVersion"]
    assert second
    assert second != first
    assert parse(rotated["LastRotationDate"]) > parse(meta["LastRotationDate"])
    assert parse(rotated["NextRotationDate"]) == parse(rotated["LastRotationDate"]) + WEEK
    assert rotated["CreationDate"] == meta["CreationDate"]

    # Encrypt and GenerateDataKey use the new primary version.
    new_blob = kms.call("Encrypt", KeyId=key_id, Plaintext="after rotation")
    assert new_blob["KeyVersionId"] == second
    assert kms.call("GenerateDataKeyWithoutPlaintext", KeyId=key_id)["KeyVersionId"] == second
    # Old ciphertexts still decrypt, naming the version that made them.
    back = kms.call("Decrypt", CiphertextBlob=old_blob["CiphertextBlob"], EncryptionContext={"a": "1"})
    assert (back["Plaintext"], back["KeyVersionId"]) == ("before rotation", first)
    back = kms.call("Decrypt", CiphertextBlob=old_dk["CiphertextBlob"])
    assert (back["Plaintext"], back["KeyVersionId"]) == (old_dk["Plaintext"], first)
    back = kms.call("Decrypt", CiphertextBlob=new_blob["CiphertextBlob"])
    assert (back["Plaintext"], back["KeyVersionId"]) == ("after rotation", second)
    # ReEncrypt moves an old blob to the new version.
    re = kms.call(
        "ReEncrypt", CiphertextBlob=old_blob["CiphertextBlob"], DestinationKeyId=key_id,
        SourceEncryptionContext={"a": "1"},
    )  # fmt: skip
    assert re["KeyVersionId"] == second

    # ListKeyVersions: both, newest first.
    listed = versions(kms, key_id)
    assert (listed["TotalCount"], listed["PageNumber"], listed["PageSize"]) == (2, 1, 10)
    rows = listed["KeyVersions"]["KeyVersion"]
    assert [r["KeyVersionId"] for r in rows] == [second, first]
    assert rows[0]["CreationDate"] == rotated["LastRotationDate"]
    assert all(r["KeyId"] == key_id for r in rows)
    assert parse(rows[0]["CreationDate"]) > parse(rows[1]["CreationDate"])
    page2 = versions(kms, key_id, PageNumber=2, PageSize=1)
    assert [r["KeyVersionId"] for r in page2["KeyVersions"]["KeyVersion"]] == [first]
    assert page2["TotalCount"] == 2

    # DescribeKeyVersion for each, by id and by alias.
    kms.call("CreateAlias", AliasName="alias/rotating", KeyId=key_id)
    for row in rows:
        for ref in (key_id, "alias/rotating"):
            one = kms.call("DescribeKeyVersion", KeyId=ref, KeyVersionId=row["KeyVersionId"])["KeyVersion"]
            assert one == row

    # Another week: a third version, still newest first.
    server.clock.advance(WEEK)
    assert key_id in run_scheduler(server)
    ids = [r["KeyVersionId"] for r in versions(kms, key_id)["KeyVersions"]["KeyVersion"]]
    assert len(ids) == 3
    assert ids[1:] == [second, first]
    assert describe(kms, key_id)["PrimaryKeyVersion"] == ids[0]
    back = kms.call("Decrypt", CiphertextBlob=old_blob["CiphertextBlob"], EncryptionContext={"a": "1"})
    assert back["Plaintext"] == "before rotation"


def test_scheduler_skips_disabled_keys_and_catches_up_when_enabled(server: InProcessServer, kms: Kms) -> None:
    meta = kms.call("CreateKey", EnableAutomaticRotation=True, RotationInterval="7d")["KeyMetadata"]
    key_id, first = meta["KeyId"], meta["PrimaryKeyVersion"]
    off = kms.call("CreateKey")["KeyMetadata"]  # rotation never turned on
    doomed = kms.call("CreateKey", EnableAutomaticRotation=True, RotationInterval="7d")["KeyMetadata"]["KeyId"]
    kms.call("DisableKey", KeyId=key_id)
    kms.call("ScheduleKeyDeletion", KeyId=doomed, PendingWindowInDays=30)
    server.clock.advance(WEEK + 60)
    rotated = run_scheduler(server)
    assert key_id not in rotated
    assert off["KeyId"] not in rotated
    assert doomed not in rotated
    assert versions(kms, doomed)["TotalCount"] == 1
    assert versions(kms, key_id)["TotalCount"] == 1
    assert describe(kms, key_id)["PrimaryKeyVersion"] == first
    assert versions(kms, off["KeyId"])["TotalCount"] == 1
    # Re-enabled and overdue: it rotates at the next run.
    kms.call("EnableKey", KeyId=key_id)
    assert key_id in run_scheduler(server)
    assert describe(kms, key_id)["PrimaryKeyVersion"] != first


def test_turning_rotation_off_stops_it(server: InProcessServer, kms: Kms) -> None:
    key_id = kms.call("CreateKey", EnableAutomaticRotation=True, RotationInterval="7d")["KeyMetadata"]["KeyId"]
    kms.call("UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=False)
    server.clock.advance(WEEK + 60)
    assert key_id not in run_scheduler(server)
    assert versions(kms, key_id)["TotalCount"] == 1


def test_shortening_the_interval_can_make_rotation_due_at_once(server: InProcessServer, kms: Kms) -> None:
    key_id = kms.call("CreateKey", EnableAutomaticRotation=True, RotationInterval="30d")["KeyMetadata"]["KeyId"]
    server.clock.advance(8 * DAY)
    assert key_id not in run_scheduler(server)
    kms.call("UpdateRotationPolicy", KeyId=key_id, EnableAutomaticRotation=True, RotationInterval="7d")
    assert key_id in run_scheduler(server)
    assert versions(kms, key_id)["TotalCount"] == 2


def test_version_lookups(kms: Kms) -> None:
    meta = kms.call("CreateKey")["KeyMetadata"]
    key_id, version_id = meta["KeyId"], meta["PrimaryKeyVersion"]
    one = kms.call("DescribeKeyVersion", KeyId=meta["Arn"], KeyVersionId=version_id)["KeyVersion"]
    assert one == {"KeyId": key_id, "KeyVersionId": version_id, "CreationDate": meta["CreationDate"]}
    expect_error(
        404, "Forbidden.KeyVersionNotFound", kms, "DescribeKeyVersion", KeyId=key_id, KeyVersionId=str(uuid.uuid4())
    )
    expect_error(404, "Forbidden.KeyVersionNotFound", kms, "DescribeKeyVersion", KeyId=key_id, KeyVersionId="bad")
    # A real version, but of another key.
    other = kms.call("CreateKey")["KeyMetadata"]
    expect_error(
        404, "Forbidden.KeyVersionNotFound", kms, "DescribeKeyVersion",
        KeyId=key_id, KeyVersionId=other["PrimaryKeyVersion"],
    )  # fmt: skip
    expect_error(400, "MissingParameter", kms, "DescribeKeyVersion", KeyId=key_id)
    missing = str(uuid.uuid4())
    expect_error(404, "Forbidden.KeyNotFound", kms, "DescribeKeyVersion", KeyId=missing, KeyVersionId=version_id)
    expect_error(404, "Forbidden.KeyNotFound", kms, "ListKeyVersions", KeyId=missing)
    expect_error(400, "InvalidParameter", kms, "ListKeyVersions", KeyId=key_id, PageSize=101)
    # Versions are readable in every state.
    kms.call("DisableKey", KeyId=key_id)
    assert versions(kms, key_id)["TotalCount"] == 1
    assert kms.call("DescribeKeyVersion", KeyId=key_id, KeyVersionId=version_id)["KeyVersion"] == one


def test_asymmetric_keys_have_no_automatic_rotation(kms: Kms) -> None:
    key_id = kms.call("CreateKey", KeySpec="EC_P256", KeyUsage="SIGN/VERIFY")["KeyMetadata"]["KeyId"]
    expect_error(
        400, "Rejected.UnsupportedOperation", kms, "UpdateRotationPolicy", KeyId=key_id,
        EnableAutomaticRotation=True, RotationInterval="30d",
    )  # fmt: skip
    assert describe(kms, key_id)["AutomaticRotation"] == "Disabled"


def test_create_key_version_is_refused_for_symmetric_keys(kms: Kms) -> None:
    key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    expect_error(400, "Rejected.UnsupportedOperation", kms, "CreateKeyVersion", KeyId=key_id)
    assert versions(kms, key_id)["TotalCount"] == 1
