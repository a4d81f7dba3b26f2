"""Rotation of managed secrets through the API and the scheduler: PostgreSQL accounts (Rds) against
the test suite's PostgreSQL server, and RAMCredentials for openkms's own AccessKeys. Time moves on
the server's clock; nothing sleeps."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from openkms.domain.identity import Caller
from openkms.rotators.postgres import scram_verifier
from openkms.service.ram_users import UserFields
from tests.audit_support import events
from tests.e2e.clients import Kms
from tests.servers import InProcessServer, inprocess_server
from tests.stores import POSTGRES_ENV

HOUR = 3_600
_PG = urlsplit(os.environ.get(POSTGRES_ENV, "").replace("+psycopg", ""))
needs_postgres = pytest.mark.skipif(not _PG.hostname, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server")


@pytest.fixture(scope="module")
def rotating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """A server whose PostgreSQL rotator may reach the suite's PostgreSQL server."""
    hosts = f"{_PG.hostname}:{_PG.port}" if _PG.hostname else ""
    data = tmp_path_factory.mktemp("rotation") / "data"
    with inprocess_server(data, secret_rotation_hosts=hosts, secret_ram_grace_hours=2.0) as srv:
        yield srv


@pytest.fixture
def kms(rotating: InProcessServer) -> Kms:
    ak, secret, _ = rotating.new_account()
    return Kms("old", rotating.endpoint, ak, secret)  # the raw answer: LastRotationError is openkms's own field


def _suffix() -> str:
    return os.urandom(4).hex()


@pytest.fixture
def pg() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(_PG.geturl(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def roles(pg: psycopg.Connection[Any]) -> Iterator[tuple[str, str]]:
    """An application role and an administrator that may change its password (CREATEROLE)."""
    app, admin = f"app_{_suffix()}", f"rotadmin_{_suffix()}"
    pg.execute(f"CREATE ROLE {app} LOGIN PASSWORD 'initial-password'")
    pg.execute(f"CREATE ROLE {admin} LOGIN CREATEROLE PASSWORD 'admin-password'")
    yield app, admin
    pg.execute(f"DROP ROLE IF EXISTS {app}")
    pg.execute(f"DROP ROLE IF EXISTS {admin}")


def _verifier_matches(pg: psycopg.Connection[Any], role: str, password: str) -> bool:
    """The server's stored SCRAM verifier is the password's (the suite's server trusts every
    log-on, so a log-on alone would prove nothing here)."""
    row = pg.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    assert row is not None
    stored: str = row[0]
    iterations, salt = stored.split("$")[1].split(":")
    return scram_verifier(password, base64.b64decode(salt), int(iterations)) == stored


@needs_postgres
def test_the_verifier_is_the_one_postgresql_computes(pg: psycopg.Connection[Any], roles: tuple[str, str]) -> None:
    """scram_verifier against PostgreSQL's own: the server hashes a clear password, and the same
    salt and count must give the same verifier (else the checks above would check only themselves)."""
    app, _ = roles
    pg.execute("SET password_encryption = 'scram-sha-256'")
    pg.execute(f"ALTER ROLE {app} PASSWORD 'known-Password-0123'")
    assert _verifier_matches(pg, app, "known-Password-0123")
    assert not _verifier_matches(pg, app, "known-Password-0124")


def _rds(kms: Kms, app: str, admin: str, host: str | None = None, **params: Any) -> str:
    admin_secret, name = f"pg-admin-{_suffix()}", f"pg-app-{_suffix()}"
    kms.call("CreateSecret", SecretName=admin_secret, VersionId="a1",
             SecretData=json.dumps({"AccountName": admin, "AccountPassword": "admin-password"}))  # fmt: skip
    config = {
        "SecretSubType": "SingleUser",
        "DBInstanceId": host or f"{_PG.hostname}:{_PG.port}",
        "CustomData": {"Database": _PG.path.lstrip("/"), "AdminSecretName": admin_secret},
    }
    kms.call("CreateSecret", SecretName=name, VersionId="v1", SecretType="Rds", ExtendedConfig=config,
             SecretData=json.dumps({"AccountName": app, "AccountPassword": "initial-password"}), **params)  # fmt: skip
    return name


def _value(kms: Kms, name: str, **params: Any) -> tuple[str, dict[str, Any]]:
    got = kms.call("GetSecretValue", SecretName=name, **params)
    return got["VersionId"], json.loads(got["SecretData"])


@needs_postgres
def _nowhere_at_rest(server: InProcessServer, password: bytes, logged: str) -> None:
    """The new password only in the secret's version, encrypted: not in the database files, the
    audit trail or the log."""
    files = [p for p in server.data_dir.rglob("*") if p.is_file() and ".sqlite3" in p.name]
    files += [p for p in (server.data_dir / "audit").rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert password not in path.read_bytes(), path
    assert password.decode() not in logged


def test_rotate_secret_sets_a_new_postgres_password(
    kms: Kms, roles: tuple[str, str], pg: psycopg.Connection[Any], rotating: InProcessServer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="openkms")
    app, admin = roles
    name = _rds(kms, app, admin)
    answer = kms.call("RotateSecret", SecretName=name, VersionId="v2")
    assert (answer["SecretName"], answer["VersionId"]) == (name, "v2")
    version, value = _value(kms, name)
    assert version == "v2"
    assert value["AccountName"] == app
    assert value["AccountPassword"] != "initial-password"
    assert _verifier_matches(pg, app, value["AccountPassword"])
    assert _value(kms, name, VersionStage="ACSPrevious") == ("v1", {"AccountName": app,
                                                                   "AccountPassword": "initial-password"})  # fmt: skip
    described = kms.call("DescribeSecret", SecretName=name)
    assert described["LastRotationDate"]
    assert "LastRotationError" not in described
    again = kms.call("RotateSecret", SecretName=name, VersionId="v2")  # the same request again: done already
    assert again["VersionId"] == "v2"
    assert _value(kms, name)[1] == value
    _nowhere_at_rest(rotating, value["AccountPassword"].encode(), caplog.text)


@needs_postgres
def test_a_failed_rotation_leaves_the_previous_version_current(
    kms: Kms, roles: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, admin = roles
    name = _rds(kms, "no_such_role", admin)
    with caplog.at_level(logging.WARNING, logger="openkms.secrets"):
        kms.call("RotateSecret", SecretName=name, VersionId="v2")
    assert _value(kms, name) == ("v1", {"AccountName": "no_such_role", "AccountPassword": "initial-password"})
    error = kms.call("DescribeSecret", SecretName=name)["LastRotationError"]
    # Exactly what failed, so nothing else (no password) is in it.
    assert error == f'PostgreSQL at {_PG.hostname}:{_PG.port}, setting the password: role "no_such_role" does not exist'
    assert caplog.text.count(error) == 1
    listed = kms.call("ListSecretVersionIds", SecretName=name, IncludeDeprecated="true")["VersionIds"]["VersionId"]
    stages = {v["VersionId"]: v["VersionStages"]["VersionStage"] for v in listed}
    assert stages == {"v1": ["ACSCurrent"], "v2": ["ACSPending"]}  # kept: a password the server may hold
    assert f"rotation of secret {name}" in caplog.text


@needs_postgres
def test_only_listed_servers_are_contacted(kms: Kms, roles: tuple[str, str]) -> None:
    app, admin = roles
    name = _rds(kms, app, admin, host="10.255.255.1:5432")
    kms.call("RotateSecret", SecretName=name, VersionId="v2")
    assert "not in [secrets] rotation_hosts" in kms.call("DescribeSecret", SecretName=name)["LastRotationError"]
    assert _value(kms, name)[0] == "v1"


@needs_postgres
def test_the_scheduler_rotates_a_due_secret(
    kms: Kms, roles: tuple[str, str], pg: psycopg.Connection[Any], rotating: InProcessServer
) -> None:
    app, admin = roles
    name = _rds(kms, app, admin, EnableAutomaticRotation="true", RotationInterval="6h")
    scheduler = rotating.runtime.services.scheduler
    assert not any(n.endswith(f"/{name}") for n in scheduler.run_once().secrets_rotated)  # not due yet
    rotating.clock.advance(6 * HOUR + 1)
    assert any(n.endswith(f"/{name}") for n in scheduler.run_once().secrets_rotated)
    version, value = _value(kms, name)
    assert version != "v1"
    assert _verifier_matches(pg, app, value["AccountPassword"])
    assert not any(n.endswith(f"/{name}") for n in scheduler.run_once().secrets_rotated)  # next in 6 hours
    recorded = [e for e in events(rotating.data_dir / "audit") if e["eventName"] == "RotateSecret"]
    assert any(e["requestParameters"].get("SecretName") == name for e in recorded)


def _ram_user(rotating: InProcessServer, kms: Kms) -> tuple[Caller, str, dict[str, str]]:
    uid = rotating.runtime.services.identity.credential(kms.access_key_id).account_uid
    caller, user = Caller(uid, "cn-hangzhou"), f"app-{_suffix()}"
    rotating.runtime.services.ram_users.create_user(caller, user, UserFields())
    issued = rotating.runtime.services.ram_users.create_access_key(caller, user)
    return caller, user, {"AccessKeyId": issued.access_key.id, "AccessKeySecret": issued.secret}


def _status(rotating: InProcessServer, access_key_id: str) -> bool:
    return rotating.runtime.services.identity.credential(access_key_id).enabled


def test_ram_credentials_get_a_new_access_key_and_the_old_is_disabled_after_the_grace(
    kms: Kms, rotating: InProcessServer
) -> None:
    _, user, pair = _ram_user(rotating, kms)
    name = f"ram-{_suffix()}"
    kms.call("CreateSecret", SecretName=name, VersionId="v1", SecretType="RAMCredentials", SecretData=json.dumps(pair),
             ExtendedConfig={"SecretSubType": "RamUserAccessKey", "UserName": user})  # fmt: skip
    kms.call("RotateSecret", SecretName=name, VersionId="v2")
    _, value = _value(kms, name)
    assert value["AccessKeyId"] != pair["AccessKeyId"]
    new = rotating.runtime.services.identity.credential(value["AccessKeyId"])
    assert (new.user_name, new.enabled, new.secret) == (user, True, value["AccessKeySecret"])
    assert _status(rotating, pair["AccessKeyId"])  # the grace period: both work
    rotating.runtime.services.scheduler.run_once()
    assert _status(rotating, pair["AccessKeyId"])
    rotating.clock.advance(2 * HOUR + 1)
    rotating.runtime.services.scheduler.run_once()
    assert not _status(rotating, pair["AccessKeyId"])
    assert _status(rotating, value["AccessKeyId"])
    kms.call("RotateSecret", SecretName=name, VersionId="v3")  # the disabled pair makes room for the next
    assert _value(kms, name)[0] == "v3"


def test_a_ram_rotation_for_a_missing_user_is_reported(kms: Kms) -> None:
    name = f"ram-{_suffix()}"
    kms.call("CreateSecret", SecretName=name, VersionId="v1", SecretType="RAMCredentials",
             SecretData=json.dumps({"AccessKeyId": "LTAIx", "AccessKeySecret": "y"}),
             ExtendedConfig={"SecretSubType": "RamUserAccessKey", "UserName": "ghost"})  # fmt: skip
    kms.call("RotateSecret", SecretName=name, VersionId="v2")
    assert kms.call("DescribeSecret", SecretName=name)["LastRotationError"] == "The RAM user ghost does not exist."
    assert _value(kms, name)[0] == "v1"


def test_a_scheduled_rotation_another_runner_took_changes_nothing(kms: Kms, rotating: InProcessServer) -> None:
    caller, user, pair = _ram_user(rotating, kms)
    name = f"ram-{_suffix()}"
    kms.call("CreateSecret", SecretName=name, VersionId="v1", SecretType="RAMCredentials", SecretData=json.dumps(pair),
             ExtendedConfig={"SecretSubType": "RamUserAccessKey", "UserName": user},
             EnableAutomaticRotation="true", RotationInterval="6h")  # fmt: skip
    rotating.clock.advance(6 * HOUR + 1)
    with rotating.runtime.store.read() as uow:
        stale = uow.secrets.get(caller.account_uid, caller.region, name)  # due, as a second runner saw it
    assert stale is not None
    rotating.runtime.services.scheduler.run_once()
    versions_before = kms.call("ListSecretVersionIds", SecretName=name, IncludeDeprecated="true")["TotalCount"]
    rotation = rotating.runtime.services.secrets._rotation
    assert rotation is not None
    assert rotation.rotate(caller, stale, "late", scheduled=True) is stale
    assert kms.call("ListSecretVersionIds", SecretName=name, IncludeDeprecated="true")["TotalCount"] == versions_before
    assert len(rotating.runtime.services.ram_users.list_access_keys(caller, user)) == 2  # no third pair issued
