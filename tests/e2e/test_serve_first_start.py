"""``openkms serve`` as a real process: what the first start creates, what a second start reuses,
where the root key and the administrator pair come from."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path

import httpx
import pytest

from openkms.storage.migrate import head_revision
from tests.e2e.clients import MODES, ApiError, Kms
from tests.servers import process_server, run_openkms


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_the_data_directory_and_a_second_start_reuses_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with process_server(data) as srv:
        assert httpx.get(f"{srv.base_url}/healthz").status_code == 200
        assert mode_of(data) == 0o700
        with sqlite3.connect(data / "openkms.sqlite3") as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head_revision()
        assert mode_of(data / "root.key") == 0o600
        assert mode_of(data / "admin-credentials.json") == 0o600
        admin = srv.admin()
        assert set(admin) == {"AccessKeyId", "AccessKeySecret", "AccountId"}
        assert admin["AccountId"].isdigit()

        # The pair is printed once, on stdout, and works.
        out = srv.stdout()
        assert out.count(admin["AccessKeyId"]) == 1
        assert out.count(admin["AccessKeySecret"]) == 1
        assert f"AccessKeySecret: {admin['AccessKeySecret']}" in out
        assert f"AccountId:       {admin['AccountId']}" in out
        assert admin["AccessKeySecret"] not in srv.stderr()
        kms = Kms("new-v3", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        key = kms.call("CreateKey")["KeyMetadata"]
        assert key["Creator"] == admin["AccountId"]
        blob = kms.call("Encrypt", KeyId=key["KeyId"], Plaintext="kept across restarts")["CiphertextBlob"]
        assert srv.stop() == 0
        assert "InsecureRootKeyWarning" in srv.stderr()

    credentials = (data / "admin-credentials.json").read_bytes()
    root_key = (data / "root.key").read_bytes()
    with process_server(data) as srv:
        assert srv.admin() == admin
        kms = Kms("old", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "kept across restarts"
        assert srv.stop() == 0
        assert srv.stdout() == ""  # nothing new to tell the operator
        assert "InsecureRootKeyWarning" in srv.stderr()  # at every start, not only the first
    assert (data / "admin-credentials.json").read_bytes() == credentials
    assert (data / "root.key").read_bytes() == root_key


def test_root_key_from_the_environment_and_a_restart_under_another_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key1 = os.urandom(32)
    env1 = {"OPENKMS_ROOT_KEY": base64.b64encode(key1).decode()}
    with process_server(data, env=env1) as srv:
        admin = srv.admin()
        kms = Kms("new-v2", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        key_id = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
        blob = kms.call("Encrypt", KeyId=key_id, Plaintext="sealed under key one")["CiphertextBlob"]
        assert srv.stop() == 0
        assert "InsecureRootKeyWarning" not in srv.log()
    assert not (data / "root.key").exists()

    # Another root key cannot unseal anything here: the server refuses to start, and says why.
    key2 = base64.b64encode(os.urandom(32)).decode()
    for command in (["serve", "--port", "1"], ["accesskey", "list"]):
        refused = run_openkms(*command, "--data-dir", str(data), env={"OPENKMS_ROOT_KEY": key2}, timeout=30)
        assert refused.returncode == 2, refused
        assert "is not the key the data" in refused.stderr
        assert "OPENKMS_ROOT_KEY" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert key2 not in refused.stderr + refused.stdout
        assert refused.stdout == ""
    # Nor does a file-held root key take over a directory sealed under an environment key.
    refused = run_openkms("accesskey", "list", "--data-dir", str(data))
    assert refused.returncode == 2
    assert "root.key is not the key the data" in refused.stderr

    # The original key, here in its hex spelling, opens everything again.
    with process_server(data, env={"OPENKMS_ROOT_KEY": key1.hex()}) as srv:
        kms = Kms("new-v3", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "sealed under key one"
        assert srv.stop() == 0


def test_file_held_root_key_refuses_another_key_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_openkms("accesskey", "list", "--data-dir", str(data)).returncode == 0  # first start, file key
    other = base64.b64encode(os.urandom(32)).decode()
    refused = run_openkms("accesskey", "create", "--data-dir", str(data), env={"OPENKMS_ROOT_KEY": other})
    assert refused.returncode == 2
    assert "is not the key the data" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stdout == ""
    listed = run_openkms("accesskey", "list", "--data-dir", str(data))
    assert len(listed.stdout.strip().splitlines()) == 2  # header and the administrator: nothing was created


@pytest.mark.parametrize(
    "bad",
    [
        "not-a-key",
        base64.b64encode(b"sixteen byte key").decode(),  # valid base64, wrong length
        "zz" * 32,  # 64 characters, not hex
    ],
)
def test_malformed_root_key_is_a_clean_configuration_error(tmp_path: Path, bad: str) -> None:
    result = run_openkms("serve", "--data-dir", str(tmp_path / "data"), "--port", "1", env={"OPENKMS_ROOT_KEY": bad})
    assert result.returncode == 2
    assert result.stderr.startswith("openkms: configuration error: OPENKMS_ROOT_KEY: the root key must be 32 bytes")
    assert "Traceback" not in result.stderr
    assert bad not in result.stderr
    assert not (tmp_path / "data" / "openkms.sqlite3").exists()


def test_administrator_pair_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ak, secret = "LTAIoperatorChosen0001", "operator-chosen-secret-0123456789"
    env = {"OPENKMS_ADMIN_ACCESS_KEY_ID": ak, "OPENKMS_ADMIN_ACCESS_KEY_SECRET": secret}
    with process_server(data, env=env) as srv:
        for mode in MODES:
            regions = Kms(mode, srv.endpoint, ak, secret).call("DescribeRegions")
            assert {"RegionId": "cn-hangzhou"} in regions["Regions"]["Region"]
        with pytest.raises(ApiError) as err:
            Kms("new-v3", srv.endpoint, ak, secret + "x").call("DescribeRegions")
        assert err.value.code in ("SignatureDoesNotMatch", "IncompleteSignature")
        assert srv.stop() == 0
        assert srv.stdout() == ""
        assert secret not in srv.log()
    assert not (data / "admin-credentials.json").exists()
    listed = run_openkms("accesskey", "list", "--data-dir", str(data))
    assert ak in listed.stdout
    assert secret not in listed.stdout
