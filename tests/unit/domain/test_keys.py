"""Pure key transitions of domain/keys.py: each returns a new key or raises the specified error."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from openkms.domain import errors, keys
from openkms.domain.keys import Key
from openkms.domain.rotation import DAY, RotationStatus
from openkms.domain.specs import KeyUsage, Origin, ProtectionLevel
from openkms.domain.states import KeyState

NOW = 1_700_000_000


def make_key(**overrides: Any) -> Key:
    values: dict[str, Any] = {
        "id": "6f1c0f9e-1111-4222-8333-944445555666",
        "account_uid": "1234567890123456",
        "region": "cn-hangzhou",
        "spec": "Aliyun_AES_256",
        "usage": KeyUsage.ENCRYPT_DECRYPT,
        "origin": Origin.ALIYUN_KMS,
        "protection_level": ProtectionLevel.SOFTWARE,
        "state": KeyState.ENABLED,
        "created_at": NOW - 100 * DAY,
        "creator": "1234567890123456",
        "primary_version_id": "0e0e0e0e-aaaa-4bbb-8ccc-dddddddddddd",
        "last_rotation_at": NOW - 100 * DAY,
    }
    values.update(overrides)
    return Key(**values)


# --- enable / disable ----------------------------------------------------------------------------


def test_enable_and_disable_switch_between_the_two_states() -> None:
    key = make_key()
    disabled = keys.disable(key)
    assert disabled.state is KeyState.DISABLED
    assert key.state is KeyState.ENABLED, "transitions return a new key and never change the old one"
    assert keys.enable(disabled).state is KeyState.ENABLED
    # Idempotent in the allowed states, as the API is.
    assert keys.disable(disabled).state is KeyState.DISABLED
    assert keys.enable(key).state is KeyState.ENABLED


@pytest.mark.parametrize("state", [KeyState.PENDING_DELETION, KeyState.PENDING_IMPORT])
@pytest.mark.parametrize("change", [keys.enable, keys.disable])
def test_enable_disable_refused_while_pending(state: KeyState, change: Any) -> None:
    with pytest.raises(errors.StateModifiedFailed):
        change(make_key(state=state))


# --- deletion window -----------------------------------------------------------------------------


@pytest.mark.parametrize("days", [7, 30, 366])
def test_schedule_deletion_accepts_7_to_366_days(days: int) -> None:
    pending = keys.schedule_deletion(make_key(), days, NOW)
    assert pending.state is KeyState.PENDING_DELETION
    assert pending.delete_at == NOW + days * DAY


@pytest.mark.parametrize("days", [-1, 0, 6, 367, 10_000])
def test_schedule_deletion_refuses_a_window_outside_7_to_366(days: int) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        keys.schedule_deletion(make_key(), days, NOW)
    assert err.value.name == "PendingWindowInDays"


def test_schedule_deletion_from_disabled_and_pending_import() -> None:
    assert keys.schedule_deletion(make_key(state=KeyState.DISABLED), 7, NOW).state is KeyState.PENDING_DELETION
    assert keys.schedule_deletion(make_key(state=KeyState.PENDING_IMPORT), 7, NOW).state is KeyState.PENDING_DELETION


def test_schedule_deletion_twice_is_a_state_error() -> None:
    pending = keys.schedule_deletion(make_key(), 7, NOW)
    with pytest.raises(errors.StateModifiedFailed):
        keys.schedule_deletion(pending, 30, NOW)


def test_deletion_protection_blocks_scheduling_until_lifted() -> None:
    protected = keys.set_deletion_protection(make_key(), True, "production data")
    assert protected.deletion_protection
    assert protected.deletion_protection_description == "production data"
    with pytest.raises(errors.DeletionProtected):
        keys.schedule_deletion(protected, 7, NOW)
    lifted = keys.set_deletion_protection(protected, False, "ignored when disabling")
    assert not lifted.deletion_protection
    assert lifted.deletion_protection_description == ""
    assert keys.schedule_deletion(lifted, 7, NOW).state is KeyState.PENDING_DELETION


def test_deletion_protection_cannot_change_while_pending_deletion() -> None:
    pending = keys.schedule_deletion(make_key(), 7, NOW)
    with pytest.raises(errors.RejectedPendingDeletion):
        keys.set_deletion_protection(pending, True, "")


def test_cancel_deletion_returns_to_enabled_and_clears_the_date() -> None:
    pending = keys.schedule_deletion(make_key(state=KeyState.DISABLED), 7, NOW)
    back = keys.cancel_deletion(pending, has_material=True)
    assert back.state is KeyState.ENABLED  # spec 4.3: "OK -> Enabled", whatever the state before
    assert back.delete_at is None


def test_cancel_deletion_of_a_key_without_material_returns_to_pending_import() -> None:
    pending = keys.schedule_deletion(make_key(origin=Origin.EXTERNAL, state=KeyState.PENDING_IMPORT), 7, NOW)
    assert keys.cancel_deletion(pending, has_material=False).state is KeyState.PENDING_IMPORT


@pytest.mark.parametrize("state", [KeyState.ENABLED, KeyState.DISABLED, KeyState.PENDING_IMPORT])
def test_cancel_deletion_of_a_key_not_pending_deletion_is_refused(state: KeyState) -> None:
    with pytest.raises(errors.StateModifiedFailed):
        keys.cancel_deletion(make_key(state=state), has_material=True)


def test_a_key_is_gone_from_the_end_of_its_window() -> None:
    pending = keys.schedule_deletion(make_key(), 7, NOW)
    assert not pending.is_gone(NOW + 7 * DAY - 1)
    assert pending.is_gone(NOW + 7 * DAY)
    assert not make_key().is_gone(NOW + 10_000 * DAY)


# --- description and policy ----------------------------------------------------------------------


def test_description_up_to_8192_characters() -> None:
    text = "x" * keys.DESCRIPTION_MAX
    assert keys.update_description(make_key(), text).description == text
    with pytest.raises(errors.InvalidParameter) as err:
        keys.update_description(make_key(), text + "x")
    assert err.value.name == "Description"


def test_description_and_policy_refused_while_pending_deletion() -> None:
    pending = keys.schedule_deletion(make_key(), 7, NOW)
    with pytest.raises(errors.RejectedPendingDeletion):
        keys.update_description(pending, "new")
    with pytest.raises(errors.RejectedPendingDeletion):
        keys.set_policy(pending, "{}")
    assert keys.update_description(make_key(state=KeyState.DISABLED), "ok").description == "ok"


# --- rotation policy -----------------------------------------------------------------------------


def test_rotation_policy_enable_and_disable() -> None:
    on = keys.update_rotation_policy(make_key(), True, 30 * DAY)
    assert on.rotation_enabled
    assert on.rotation_interval == 30 * DAY
    assert on.rotation_status is RotationStatus.ENABLED
    off = keys.update_rotation_policy(on, False, None)
    assert not off.rotation_enabled
    assert off.rotation_status is RotationStatus.DISABLED
    assert off.next_rotation_at is None


def test_rotation_policy_needs_an_interval_when_enabling() -> None:
    with pytest.raises(errors.MissingParameter) as err:
        keys.update_rotation_policy(make_key(), True, None)
    assert err.value.name == "RotationInterval"


@pytest.mark.parametrize("seconds", [7 * DAY - 1, 0, 731 * DAY, 3 * DAY])
def test_rotation_interval_outside_7_to_730_days_is_refused(seconds: int) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        keys.update_rotation_policy(make_key(), True, seconds)
    assert err.value.name == "RotationInterval"


@pytest.mark.parametrize("seconds", [7 * DAY, 730 * DAY])
def test_rotation_interval_bounds_are_inclusive(seconds: int) -> None:
    assert keys.update_rotation_policy(make_key(), True, seconds).rotation_interval == seconds


def test_rotation_only_for_symmetric_keys_kms_generated() -> None:
    rsa = make_key(spec="RSA_2048", usage=KeyUsage.SIGN_VERIFY)
    with pytest.raises(errors.UnsupportedOperation):
        keys.update_rotation_policy(rsa, True, 30 * DAY)
    external = make_key(origin=Origin.EXTERNAL)
    with pytest.raises(errors.UnsupportedOrigin):
        keys.update_rotation_policy(external, True, 30 * DAY)


@pytest.mark.parametrize(
    ("state", "error"),
    [
        (KeyState.DISABLED, errors.RejectedDisabled),
        (KeyState.PENDING_DELETION, errors.RejectedPendingDeletion),
        (KeyState.PENDING_IMPORT, errors.RejectedPendingImport),
    ],
)
def test_rotation_policy_follows_the_state_table(state: KeyState, error: type[errors.KmsError]) -> None:
    with pytest.raises(error):
        keys.update_rotation_policy(make_key(state=state), True, 30 * DAY)


def test_rotation_due_exactly_at_next_rotation_date() -> None:
    key = keys.update_rotation_policy(make_key(last_rotation_at=NOW), True, 7 * DAY)
    assert key.next_rotation_at == NOW + 7 * DAY
    assert not keys.rotation_due(key, NOW + 7 * DAY - 1)
    assert keys.rotation_due(key, NOW + 7 * DAY)


def test_a_shorter_interval_makes_rotation_due_at_once() -> None:
    key = keys.update_rotation_policy(make_key(last_rotation_at=NOW - 60 * DAY), True, 30 * DAY)
    assert keys.rotation_due(key, NOW)


def test_rotation_is_suspended_while_disabled_or_pending_deletion() -> None:
    key = keys.update_rotation_policy(make_key(last_rotation_at=NOW - 60 * DAY), True, 30 * DAY)
    disabled = keys.disable(key)
    assert disabled.rotation_status is RotationStatus.SUSPENDED
    assert not keys.rotation_due(disabled, NOW)
    pending = keys.schedule_deletion(key, 7, NOW)
    assert pending.rotation_status is RotationStatus.SUSPENDED
    assert not keys.rotation_due(pending, NOW)
    # Re-enabling makes it Enabled again, and due.
    again = keys.enable(disabled)
    assert again.rotation_status is RotationStatus.ENABLED
    assert keys.rotation_due(again, NOW)


def test_rotate_makes_the_new_version_primary() -> None:
    key = keys.update_rotation_policy(make_key(), True, 30 * DAY)
    rotated = keys.rotate(key, "11111111-2222-4333-8444-555555555555", NOW)
    assert rotated.primary_version_id == "11111111-2222-4333-8444-555555555555"
    assert rotated.last_rotation_at == NOW
    assert rotated.next_rotation_at == NOW + 30 * DAY
    assert not keys.rotation_due(rotated, NOW)


# --- CreateKeyVersion (asymmetric keys) ----------------------------------------------------------


def test_new_version_only_for_asymmetric_keys() -> None:
    with pytest.raises(errors.UnsupportedOperation):
        keys.check_new_version(make_key(), 1, NOW, 7 * DAY)


def test_new_version_spacing_and_limit() -> None:
    rsa = make_key(spec="RSA_2048", usage=KeyUsage.SIGN_VERIFY, last_rotation_at=NOW - 7 * DAY)
    keys.check_new_version(rsa, 1, NOW, 7 * DAY)
    with pytest.raises(errors.UnsupportedOperation):
        keys.check_new_version(replace(rsa, last_rotation_at=NOW - 7 * DAY + 1), 1, NOW, 7 * DAY)
    with pytest.raises(errors.LimitExceeded):
        keys.check_new_version(rsa, keys.MAX_VERSIONS, NOW, 7 * DAY)
    with pytest.raises(errors.RejectedDisabled):
        keys.check_new_version(replace(rsa, state=KeyState.DISABLED), 1, NOW, 7 * DAY)


# --- names -----------------------------------------------------------------------------------------


def test_arns() -> None:
    key = make_key()
    assert key.arn() == f"acs:kms:cn-hangzhou:1234567890123456:key/{key.id}"
    assert keys.alias_arn("cn-shanghai", "42", "alias/app") == "acs:kms:cn-shanghai:42:alias/app"
