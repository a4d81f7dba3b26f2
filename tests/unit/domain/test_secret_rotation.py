"""The rules of a rotation's dates and outcome (domain/secret_rotation.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openkms.domain import errors
from openkms.domain import secret_rotation as r
from openkms.domain.secrets import HOUR, Secret, SecretType


def _secret(**fields: object) -> Secret:
    base = Secret("1", "cn-hangzhou", "db", SecretType.RDS, "", "key", True, '{"CustomData":{"Host":"h"}}', 0, 0,
                  rotation_enabled=True, rotation_interval=6 * HOUR, next_rotation_at=6 * HOUR)  # fmt: skip
    return replace(base, **fields)  # type: ignore[arg-type]


def test_due_once_next_rotation_date_has_passed_and_never_in_the_recovery_window() -> None:
    assert not r.is_due(_secret(), 6 * HOUR - 1)
    assert r.is_due(_secret(), 6 * HOUR)
    assert not r.is_due(_secret(rotation_enabled=False), 7 * HOUR)
    assert not r.is_due(_secret(delete_at=9 * HOUR), 7 * HOUR)


def test_a_claimed_secret_is_not_due_again_until_the_retry() -> None:
    claimed = r.claimed(_secret(), 6 * HOUR)
    assert not r.is_due(claimed, 6 * HOUR + r.RETRY_AFTER - 1)
    assert r.is_due(claimed, 6 * HOUR + r.RETRY_AFTER)


def test_success_sets_the_dates_clears_the_error_and_plans_the_retirement() -> None:
    done = r.succeeded(_secret(rotation_error="earlier"), 7 * HOUR, grace=2 * HOUR)
    assert (done.last_rotation_at, done.next_rotation_at, done.rotation_error) == (7 * HOUR, 13 * HOUR, None)
    assert done.retire_at == 9 * HOUR
    assert r.succeeded(_secret(), 7 * HOUR, grace=0).retire_at is None
    manual = r.succeeded(_secret(rotation_enabled=False, next_rotation_at=None), 7 * HOUR, grace=0)
    assert manual.next_rotation_at is None  # RotateSecret without a policy plans nothing


def test_failure_keeps_the_last_rotation_and_retries_later() -> None:
    failed = r.failed(_secret(last_rotation_at=HOUR), 7 * HOUR, "x" * 2000)
    assert failed.last_rotation_at == HOUR
    assert failed.next_rotation_at == 7 * HOUR + r.RETRY_AFTER
    assert failed.rotation_error == "x" * r.MAX_ERROR_LENGTH


def test_config_merges_custom_data_and_values_must_be_json_objects() -> None:
    assert r.config(_secret(extended_config='{"DBInstanceId":"a","CustomData":{"Port":1}}')) == {
        "DBInstanceId": "a", "CustomData": {"Port": 1}, "Port": 1,
    }  # fmt: skip
    with pytest.raises(errors.SecretRotationFailed):
        r.credential("not json")
    with pytest.raises(errors.SecretRotationFailed):
        r.credential("[1]")


def test_passwords_are_long_random_and_need_no_quoting() -> None:
    passwords = {r.new_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == r.PASSWORD_LENGTH and p.isascii() and "'" not in p and "@" not in p for p in passwords)
