"""Secrets Manager's rules as pure functions: names, values, stages, the version limit, windows."""

from __future__ import annotations

import pytest

from openkms.domain import errors
from openkms.domain import secrets as s
from openkms.domain.listing import Filter
from openkms.domain.secrets import DataType, Secret, SecretType, SecretVersion
from openkms.domain.tags import Tag


def _v(version_id: str, *stages: str, at: int = 0) -> SecretVersion:
    return SecretVersion("1", "r", "n", version_id, at, DataType.TEXT, stages, b"", b"")


def test_putting_current_moves_the_old_holder_to_previous() -> None:
    versions = [_v("v1", "ACSPrevious"), _v("v2", "ACSCurrent", "x")]
    assert s.with_stages(versions, "v3", ["ACSCurrent"]) == {
        "v1": (),
        "v2": ("x", "ACSPrevious"),
        "v3": ("ACSCurrent",),
    }


def test_a_custom_stage_leaves_its_holder_and_current_stays() -> None:
    versions = [_v("v1", "ACSCurrent", "canary")]
    assert s.with_stages(versions, "v2", ["canary"]) == {"v1": ("ACSCurrent",), "v2": ("canary",)}


def test_a_stage_already_on_the_target_changes_nothing() -> None:
    assert s.with_stages([_v("v1", "ACSCurrent")], "v1", ["ACSCurrent"]) == {}


def test_at_most_eight_stages_on_a_secret() -> None:
    versions = [_v("v1", "ACSCurrent", *(f"s{i}" for i in range(7)))]
    with pytest.raises(errors.LimitExceeded):
        s.with_stages(versions, "v2", ["one-more"])


def test_current_is_moved_never_removed() -> None:
    with pytest.raises(errors.InvalidParameter):
        s.remove_stage([_v("v1", "ACSCurrent")], "ACSCurrent", "v1")
    assert s.remove_stage([_v("v1", "ACSCurrent", "x")], "x", "v1") == {"v1": ("ACSCurrent",)}
    with pytest.raises(errors.SecretVersionNotFound):
        s.remove_stage([_v("v1", "x")], "x", "v9")


def test_the_oldest_unstaged_versions_go_past_ten() -> None:
    versions = [_v(f"v{i}", at=i) for i in range(11)] + [_v("cur", "ACSCurrent", at=0)]
    assert s.to_drop(versions) == ["v0", "v1"]
    assert s.to_drop(versions[:5]) == []


@pytest.mark.parametrize("name", ["db", "a/b_c+d=e.f@g-h", "x" * 192])
def test_names_accepted(name: str) -> None:
    assert s.check_name(name) == name


@pytest.mark.parametrize("name", ["", "has space", "x" * 193, "acs/reserved", "é"])
def test_names_refused(name: str) -> None:
    with pytest.raises(errors.InvalidParameter):
        s.check_name(name)


def test_values_text_and_binary_within_30_kb() -> None:
    assert s.value_bytes("héllo", DataType.TEXT) == "héllo".encode()
    assert s.value_bytes("AAE=", DataType.BINARY) == b"\x00\x01"
    assert s.shown_value(b"\x00\x01", DataType.BINARY) == "AAE="
    assert len(s.value_bytes("x" * s.MAX_DATA_BYTES, DataType.TEXT)) == s.MAX_DATA_BYTES
    for data, data_type in (("x" * (s.MAX_DATA_BYTES + 1), DataType.TEXT), ("not base64", DataType.BINARY)):
        with pytest.raises(errors.InvalidParameter):
            s.value_bytes(data, data_type)
    with pytest.raises(errors.MissingParameter):
        s.value_bytes("", DataType.TEXT)


def test_recovery_window_and_rotation_interval_bounds() -> None:
    assert s.recovery_window(None) == 30 * s.DAY
    assert s.recovery_window(7) == 7 * s.DAY
    for days in (6, 31):
        with pytest.raises(errors.InvalidParameter):
            s.recovery_window(days)
    assert s.parse_rotation_interval("6h") == 6 * s.HOUR
    assert s.parse_rotation_interval("365d") == 365 * s.DAY
    for text in ("5h", "366d", "7", "d", "-7d"):
        with pytest.raises(errors.InvalidParameter):
            s.parse_rotation_interval(text)


def test_a_secret_arn_names_it_in_its_own_account_and_region_only() -> None:
    assert s.name_from_ref("acs:kms:r:1:secret/db", "r", "1") == "db"
    assert s.name_from_ref("db", "r", "1") == "db"
    with pytest.raises(errors.SecretNotFound):
        s.name_from_ref("acs:kms:r:2:secret/db", "r", "1")
    with pytest.raises(errors.InvalidParameter):
        s.name_from_ref("acs:kms:r:1:key/db", "r", "1")


def test_filters() -> None:
    secret = Secret("1", "r", "orders-db", SecretType.RDS, "Orders", "k", False, "{}", 0, 0, tags=(Tag("team", "a"),))
    assert s.matches(secret, [Filter("SecretName", ("ORDERS",)), Filter("TagKey", ("team",))])
    assert not s.matches(secret, [Filter("SecretType", ("Generic",))])
    with pytest.raises(errors.InvalidParameter):
        s.check_filters([Filter("KeyState", ("Enabled",))])


def test_rotation_policy_only_for_managed_types() -> None:
    rds = Secret("1", "r", "n", SecretType.RDS, "", "k", False, "{}", 100, 100)
    on = s.rotation_policy(rds, True, 7 * s.DAY, 200)
    assert (on.automatic_rotation, on.next_rotation_at) == ("Enabled", 100 + 7 * s.DAY)
    generic = Secret("1", "r", "n", SecretType.GENERIC, "", "k", False, None, 100, 100)
    assert generic.automatic_rotation == "Invalid"
    with pytest.raises(errors.UnsupportedOperation):
        s.rotation_policy(generic, True, 7 * s.DAY, 200)
