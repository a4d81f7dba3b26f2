"""HSM protection as an operator meets it, with ``openkms serve`` as a real process: it works out
of the box on openkms's own SoftHSM2 token, and the root key itself can live in a token."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from openkms.crypto import softhsm
from openkms.crypto.sealing import AesGcmSealer, decode_root_key
from tests.e2e.clients import ApiError, Kms
from tests.hsm_support import requires_softhsm
from tests.servers import process_server, run_openkms

pytestmark = requires_softhsm


def all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


def test_hsm_keys_work_out_of_the_box_on_the_own_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with process_server(data, workers=2) as srv:
        admin = srv.admin()
        kms = Kms("new-v3", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        keys = [kms.call("CreateKey", ProtectionLevel="HSM")["KeyMetadata"] for _ in range(3)]
        assert {(k["ProtectionLevel"], k["DKMSInstanceId"]) for k in keys} == {("HSM", "")}
        # Requests land on both workers; each opened the same token and sees every key.
        for key in keys:
            for _ in range(3):
                blob = kms.call("Encrypt", KeyId=key["KeyId"], Plaintext="own token")["CiphertextBlob"]
                assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "own token"
        home = data / "softhsm"
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        assert stat.S_IMODE((home / "pin.sealed").stat().st_mode) == 0o600
        # The PIN is kept sealed under the root key, in no file and no log line in clear.
        sealer = AesGcmSealer(decode_root_key((data / "root.key").read_text()))
        pins = json.loads(sealer.unseal((home / "pin.sealed").read_bytes(), b"softhsm2-token-pins:openkms"))
        for pin in pins.values():
            assert pin.encode() not in all_bytes(data)
            assert pin not in srv.stdout() + srv.stderr()
        assert srv.stop() == 0


def test_without_softhsm_hsm_requests_say_how_to_enable_it(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text("[hsm]\nauto_softhsm = false\n")
    with process_server(tmp_path / "data", "--config", str(config)) as srv:
        admin = srv.admin()
        kms = Kms("old", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        with pytest.raises(ApiError) as err:
            kms.call("CreateKey", ProtectionLevel="HSM")
        assert (err.value.status, err.value.code) == (400, "Unsupported.ProtectionLevel")
        assert "[[keystores]]" in err.value.message
    ok, reason = softhsm.available(candidates=[])
    if not ok:  # only where dpkg does not know softhsm2 either
        assert "install the softhsm2 package" in reason


def init_token(tmp_path: Path, label: str, pin: str) -> tuple[Path, str]:
    """A SoftHSM2 token of the operator's, made with the softhsm2-util command line."""
    tokens = tmp_path / "operator-tokens"
    tokens.mkdir()
    conf = tmp_path / "operator-softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "so-" + pin, "--pin", pin],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    module = softhsm.find_module()
    assert module is not None
    return conf, module


def test_the_root_key_can_live_in_a_key_store(tmp_path: Path) -> None:
    pin = "operator-pin-7391"
    conf, module = init_token(tmp_path, "root-store", pin)
    config = tmp_path / "openkms.toml"
    config.write_text(
        f"""
[[keystores]]
id = "kst-root"
module = "{module}"
token_label = "root-store"
pin_env = "OPENKMS_KST_ROOT_PIN"
softhsm2_conf = "{conf}"
description = "operator token"

[hsm]
root_key_keystore = "kst-root"
default_keystore = "kst-root"
auto_softhsm = false
"""
    )
    data = tmp_path / "data"
    env = {"OPENKMS_KST_ROOT_PIN": pin}
    with process_server(data, "--config", str(config), env=env) as srv:
        admin = srv.admin()
        kms = Kms("new-v2", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        soft = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
        hsm = kms.call("CreateKey", ProtectionLevel="HSM")["KeyMetadata"]
        assert hsm["DKMSInstanceId"] == "kst-root"
        blobs = {
            k: kms.call("Encrypt", KeyId=k, Plaintext="sealed in the token")["CiphertextBlob"]
            for k in (soft, hsm["KeyId"])
        }
        assert srv.stop() == 0
        assert "InsecureRootKeyWarning" not in srv.stderr()
        assert pin not in srv.stdout() + srv.stderr()
    assert not (data / "root.key").exists()  # nothing on disk unseals the data without the token
    assert pin.encode() not in all_bytes(data)

    with process_server(data, "--config", str(config), env=env) as srv:
        kms = Kms("old", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
        for blob in blobs.values():
            assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "sealed in the token"

    # Without the token's PIN the node refuses to start, with a message and no PIN or traceback.
    wrong = run_openkms(
        "accesskey", "list", "--data-dir", str(data), "--config", str(config), env={"OPENKMS_KST_ROOT_PIN": "nope"}
    )
    assert wrong.returncode != 0
    assert "kst-root" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    assert "nope" not in wrong.stderr
