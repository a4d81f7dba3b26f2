"""The secrets repository on every store adapter (SQLite, PostgreSQL): round trips, scoping,
stages, purge, and what the scheduler asks for."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openkms.domain import errors
from openkms.domain.ports import Store
from openkms.domain.secrets import DataType, Secret, SecretType, SecretVersion
from openkms.domain.tags import Tag


def _secret(name: str = "db", account: str = "1", region: str = "cn-hangzhou", **fields: object) -> Secret:
    base = Secret(account, region, name, SecretType.RDS, "d", "key-1", False, '{"a":1}', 10, 11,
                  tags=(Tag("team", "a"), Tag("env", "prod")))  # fmt: skip
    return replace(base, **fields)  # type: ignore[arg-type]


def _version(secret: Secret, version_id: str, created_at: int, stages: tuple[str, ...]) -> SecretVersion:
    return SecretVersion(secret.account_uid, secret.region, secret.name, version_id, created_at, DataType.BINARY,
                         stages, b"\x00dk" + version_id.encode(), b"\xffvalue")  # fmt: skip


def test_a_secret_round_trips_every_field(store: Store) -> None:
    secret = _secret(rotation_enabled=True, rotation_interval=3600, last_rotation_at=5, next_rotation_at=3605,
                     delete_at=99, policy="{}", dkms_instance_id="kst-1", rotation_error="refused",
                     retire_at=7)  # fmt: skip
    with store.write() as uow:
        uow.secrets.add(secret)
    with store.read() as uow:
        assert uow.secrets.get("1", "cn-hangzhou", "db") == secret
        assert uow.secrets.get("1", "cn-shanghai", "db") is None
        assert uow.secrets.get("2", "cn-hangzhou", "db") is None
        assert uow.secrets.list_in_region("1", "cn-hangzhou") == [secret]
    changed = replace(secret, description="new", tags=(), delete_at=None, service_key=True)
    with store.write() as uow:
        uow.secrets.save(changed)
        assert uow.secrets.count("1", "cn-hangzhou") == 1
    with store.read() as uow:
        assert uow.secrets.get("1", "cn-hangzhou", "db") == changed


def test_a_duplicate_name_in_a_scope_is_refused(store: Store) -> None:
    with store.write() as uow:
        uow.secrets.add(_secret())
        uow.secrets.add(_secret(region="cn-shanghai"))  # another region: another name space
    with pytest.raises(errors.BackendUnavailable), store.write() as uow:
        uow.secrets.add(_secret())


def test_versions_keep_their_order_and_stages(store: Store) -> None:
    secret = _secret()
    with store.write() as uow:
        uow.secrets.add(secret)
        uow.secrets.add_version(_version(secret, "v2", 20, ("ACSCurrent",)))
        uow.secrets.add_version(_version(secret, "v1", 10, ("ACSPrevious", "custom")))
    with store.write() as uow:
        versions = uow.secrets.versions(secret)
        assert [v.version_id for v in versions] == ["v1", "v2"]
        assert versions[0] == _version(secret, "v1", 10, ("ACSPrevious", "custom"))
        uow.secrets.set_stages(secret, "v1", ())
        uow.secrets.delete_version(secret, "v2")
    with store.read() as uow:
        assert [(v.version_id, v.stages) for v in uow.secrets.versions(secret)] == [("v1", ())]


def test_past_deletion_and_purge(store: Store) -> None:
    due, later, live = _secret("a", delete_at=100), _secret("b", delete_at=200), _secret("c")
    with store.write() as uow:
        for secret in (due, later, live):
            uow.secrets.add(secret)
            uow.secrets.add_version(_version(secret, "v1", 1, ("ACSCurrent",)))
    with store.read() as uow:
        assert [s.name for s in uow.secrets.past_deletion(150)] == ["a"]
    with store.write() as uow:
        uow.secrets.purge(due)
    with store.read() as uow:
        assert uow.secrets.get("1", "cn-hangzhou", "a") is None
        assert uow.secrets.versions(due) == []
        assert [v.version_id for v in uow.secrets.versions(later)] == ["v1"]


def test_secrets_due_for_rotation_and_for_retirement(store: Store) -> None:
    due = _secret("due", rotation_enabled=True, rotation_interval=3600, next_rotation_at=100, retire_at=50)
    later = _secret("later", rotation_enabled=True, rotation_interval=3600, next_rotation_at=200, retire_at=150)
    off = _secret("off", next_rotation_at=100)  # the policy was turned off: no longer due
    deleted = _secret("deleted", rotation_enabled=True, next_rotation_at=100, retire_at=50, delete_at=999)
    with store.write() as uow:
        for secret in (due, later, off, deleted):
            uow.secrets.add(secret)
    with store.read() as uow:
        assert [s.name for s in uow.secrets.due_for_rotation(100)] == ["due"]
        assert [s.name for s in uow.secrets.to_retire(100)] == ["due"]
        assert sorted(s.name for s in uow.secrets.due_for_rotation(200)) == ["due", "later"]
        assert uow.secrets.to_retire(49) == []
