"""``scripts/restore-drill`` end to end, on the PostgreSQL server the suite starts: a real
``openkms serve`` on its own database holds keys of several specs, aliases, a rotated key, a
secret with two versions and ciphertexts made by the official SDK; the drill backs the database
up with pg_dump, restores it into a fresh one, starts a node there and must find all of it,
decrypt every old ciphertext, and fail loudly (status 1) when a ciphertext does not open or the
root of trust is not the one that sealed the data. Nothing secret may appear in its output."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from openkms.cli.remote import ControlClient
from tests.e2e.clients import Kms
from tests.hsm_support import requires_softhsm
from tests.servers import ProcessServer, clean_env, process_server
from tests.stores import POSTGRES_ENV, POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")

DRILL = Path(__file__).resolve().parents[2] / "scripts" / "restore-drill"
ROOT_KEY = base64.b64encode(os.urandom(32)).decode()


def _databases(prefix: str) -> list[str]:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": prefix + "%"})
            return [r[0] for r in rows]
    finally:
        engine.dispose()


def _admin_sql(statement: str) -> None:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


@dataclass
class Live:
    server: ProcessServer
    url: str
    name: str
    ciphertexts: Path  # the operator's old ciphertexts, JSON lines
    secrets: list[str]  # what must never be printed


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _populate(kms: Kms, control: ControlClient) -> tuple[list[dict[str, object]], list[str]]:
    """Keys of several specs and states, aliases, rotated keys (a symmetric one by its schedule,
    an RSA one by CreateKeyVersion), a two-version secret; returns the old ciphertexts (with their
    plaintexts' digests) and the plaintexts and secret values."""
    sym = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    rotated = kms.call("CreateKey", EnableAutomaticRotation=True, RotationInterval="604800s")["KeyMetadata"]["KeyId"]
    rsa = kms.call("CreateKey", KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT")["KeyMetadata"]["KeyId"]
    kms.call("CreateKeyVersion", KeyId=rsa)
    for spec in ("RSA_2048", "EC_P256"):
        kms.call("CreateKey", KeySpec=spec, KeyUsage="SIGN/VERIFY")
    disabled = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    doomed = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    kms.call("CreateAlias", AliasName="alias/payments", KeyId=sym)
    kms.call("CreateAlias", AliasName="alias/rotated", KeyId=rotated)
    plain = [f"card number {n} {uuid.uuid4().hex}" for n in range(4)]
    rows: list[dict[str, object]] = [
        {"CiphertextBlob": kms.call("Encrypt", KeyId="alias/payments", Plaintext=plain[0])["CiphertextBlob"]},
        {"CiphertextBlob": kms.call("Encrypt", KeyId=rotated, Plaintext=plain[1])["CiphertextBlob"]},
    ]
    # Eight days on, the scheduler (run by the control API's clock move) rotates ``rotated``: its
    # first ciphertext is under the old version, the next under the new.
    assert control.call("POST", "/clock/advance", {"Seconds": 8 * 86_400})["Scheduler"]["Rotated"] == [rotated]
    rows.append({"CiphertextBlob": kms.call("Encrypt", KeyId=rotated, Plaintext=plain[2])["CiphertextBlob"]})
    context = {"tenant": "acme"}
    blob = kms.call("Encrypt", KeyId=sym, Plaintext=plain[3], EncryptionContext=context)["CiphertextBlob"]
    rows.append({"CiphertextBlob": blob, "EncryptionContext": context})
    for row, value in zip(rows, plain, strict=True):
        row["PlaintextSha256"] = _sha(value)
    values = [f"db-password-{uuid.uuid4().hex}", f"db-password-{uuid.uuid4().hex}"]
    kms.call("CreateSecret", SecretName="db/orders", SecretData=values[0], VersionId="v1", EncryptionKeyId=sym)
    kms.call("PutSecretValue", SecretName="db/orders", SecretData=values[1], VersionId="v2")
    kms.call("DisableKey", KeyId=disabled)
    kms.call("ScheduleKeyDeletion", KeyId=doomed, PendingWindowInDays="7")
    return rows, plain + values


@contextmanager
def fresh_database() -> Iterator[tuple[str, str]]:
    """(name, URL) of a new database on the suite's server, dropped afterwards."""
    name = f"openkms_drill_{uuid.uuid4().hex[:10]}"
    _admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield name, make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("drill")
    with fresh_database() as (name, url):
        env = {
            "OPENKMS_DATABASE_URL": url,
            "OPENKMS_ROOT_KEY": ROOT_KEY,
            "OPENKMS_VERSION_SPACING_DAYS": "0",
            "OPENKMS_TESTING_CONTROL_API": "true",
        }
        with process_server(tmp / "data", "--no-tls", env=env) as srv:
            admin = srv.admin()
            pair = (admin["AccessKeyId"], admin["AccessKeySecret"])
            rows, secrets = _populate(Kms("new-v3", srv.endpoint, *pair), ControlClient(srv.endpoint, *pair))
            file = tmp / "old-ciphertexts.jsonl"
            file.write_text("".join(json.dumps(row) + "\n" for row in rows))
            yield Live(srv, url, name, file, [*secrets, ROOT_KEY, admin["AccessKeySecret"]])


def run_drill(live: Live, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    args = ["--endpoint", live.server.endpoint, "--data-dir", str(live.server.data_dir), "--database-url", live.url]
    return subprocess.run(
        [str(DRILL), *args, *extra],
        capture_output=True,
        text=True,
        env=clean_env({"PYTHON": sys.executable, **(env or {})}),
        timeout=240,
        check=False,
    )


def assert_nothing_secret(live: Live, result: subprocess.CompletedProcess[str]) -> None:
    said = result.stdout + result.stderr
    for secret in live.secrets:
        assert secret not in said
    assert "Traceback" not in said


def test_the_drill_restores_everything_and_every_old_ciphertext_decrypts(live: Live) -> None:
    result = run_drill(live, "--ciphertexts", str(live.ciphertexts), env={"OPENKMS_ROOT_KEY": ROOT_KEY})
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "root of trust:  OPENKMS_ROOT_KEY (from this environment)" in out
    assert "      7 keys, 9 versions, 2 aliases, 2 secret versions" in out
    # Two symmetric keys (primary versions), the RSA encryption key's two versions, two signing keys.
    assert "      6 canaries" in out
    for line in (
        "ok    keys and versions: 7 keys, 9 versions",
        "ok    aliases: 2 aliases",
        "ok    secret versions (values compared by SHA-256): 2 versions",
        "ok    canaries made before the backup: 6 of 6 opened",
        "ok    old ciphertexts: 4 of 4 opened",
        "ok    refusals: a tampered ciphertext; a wrong AccessKey secret; Encrypt with Disabled key",
        "PASSED: the backup restores, and what it held opens under this root of trust",
    ):
        assert line in out
    assert "Encrypt with PendingDeletion key" in out
    assert "FAIL" not in out
    assert_nothing_secret(live, result)
    assert _databases(live.name + "_drill_") == []  # the restored copy is dropped afterwards


def test_a_ciphertext_that_does_not_open_fails_the_drill(live: Live, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in live.ciphertexts.read_text().splitlines()]
    rows[1]["PlaintextSha256"] = _sha("not what was encrypted")
    del rows[3]["EncryptionContext"]  # the context is part of what was sealed
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("".join(json.dumps(row) + "\n" for row in rows))
    backup = tmp_path / "kept.dump"
    target = make_url(live.url).set(database=live.name + "_drill_named").render_as_string(hide_password=False)
    result = run_drill(
        live,
        *("--ciphertexts", str(wrong), "--backup-file", str(backup), "--restore-url", target),
        env={"OPENKMS_ROOT_KEY": ROOT_KEY},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"ok    createdb {live.name}_drill_named" in result.stdout
    assert backup.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format, kept where asked
    assert _databases(live.name + "_drill_") == []
    assert "FAIL  old ciphertexts: 2 wrong" in result.stdout
    assert "wrong.jsonl #2 (decrypt): decrypts to another plaintext" in result.stdout
    assert "wrong.jsonl #4 (decrypt): InvalidParameter (HTTP 400)" in result.stdout
    assert "FAILED: 1 checks failed" in result.stdout
    assert_nothing_secret(live, result)


def test_another_root_key_fails_the_drill_with_the_reason(live: Live, tmp_path: Path) -> None:
    other = base64.b64encode(os.urandom(32)).decode()
    key_file = tmp_path / "root.key"
    key_file.write_text(other)
    result = run_drill(live, "--root-key-file", str(key_file), env={"OPENKMS_ROOT_KEY": ROOT_KEY})
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert f"root of trust:  the root key in {key_file}" in out
    assert "ok    pg_restore" in out
    assert (
        "FAIL  openkms serve on the restored database answered: openkms serve exited with status 2: "
        "openkms: configuration error: the root key from OPENKMS_ROOT_KEY is not the key the data in the "
        "configured database was sealed under; start openkms with the original root key"
    ) in out
    assert out.endswith("FAILED: the drill could not complete\n")
    assert other not in out + result.stderr
    assert_nothing_secret(live, result)
    assert _databases(live.name + "_drill_") == []


def test_without_a_root_of_trust_the_drill_says_what_to_give(live: Live, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(DRILL), "--endpoint", live.server.endpoint, "--data-dir", str(tmp_path), "--database-url", live.url],
        capture_output=True,
        text=True,
        env=clean_env({"PYTHON": sys.executable}),
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == (
        "FAIL  no root of trust: give --root-key-file, set OPENKMS_ROOT_KEY, configure [hsm] root_key_keystore "
        f"(--config), or point --data-dir at the node's data directory (no root.key in {tmp_path})\n"
        "FAILED: the drill could not complete\n"
    )


@requires_softhsm
def test_hsm_keys_in_the_own_token_restore_with_a_copy_of_the_token(tmp_path: Path) -> None:
    """A file-held root key and openkms's own SoftHSM2 token, both in the data directory: the drill
    copies both for the restored node, whose HSM keys then open (RSA in the token: OAEP SHA-1)."""
    with (
        fresh_database() as (name, url),
        process_server(tmp_path / "data", "--no-tls", env={"OPENKMS_DATABASE_URL": url}) as srv,
    ):
        admin = srv.admin()
        kms = Kms("new-v3", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        aes = kms.call("CreateKey", ProtectionLevel="HSM")["KeyMetadata"]["KeyId"]
        kms.call("CreateKey", ProtectionLevel="HSM", KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT")
        blob = kms.call("Encrypt", KeyId=aes, Plaintext="in the token")["CiphertextBlob"]
        old = tmp_path / "old.jsonl"
        old.write_text(json.dumps({"CiphertextBlob": blob, "PlaintextSha256": _sha("in the token")}) + "\n")
        live = Live(srv, url, name, old, [admin["AccessKeySecret"], (tmp_path / "data" / "root.key").read_text()])
        result = run_drill(live, "--ciphertexts", str(old))
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"root of trust:  {tmp_path / 'data' / 'root.key'} (a copy is used)" in out
    assert "ok    canaries made before the backup: 2 of 2 opened" in out
    assert "ok    old ciphertexts: 1 of 1 opened" in out
    assert_nothing_secret(live, result)


def test_a_malformed_ciphertexts_file_is_refused_before_anything_is_backed_up(live: Live, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"CiphertextBlob": "abc"}\n')  # no PlaintextSha256
    result = run_drill(live, "--ciphertexts", str(bad), env={"OPENKMS_ROOT_KEY": ROOT_KEY})
    assert result.returncode == 1
    assert result.stdout.endswith(
        f"FAIL  {bad}:1: expected a JSON object with CiphertextBlob and PlaintextSha256\n"
        "FAILED: the drill could not complete\n"
    )
    assert "pg_dump" not in result.stdout
