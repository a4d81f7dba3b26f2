"""HSM key stores that misbehave: a token object destroyed behind openkms's back, a key store
whose PIN is wrong, objects in a token that no database row references."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from openkms.cli.main import main
from openkms.crypto.pkcs11_session import TokenSessions, open_token, release
from openkms.domain.specs import ProtectionLevel
from openkms.settings import KeyStoreSettings
from tests.e2e.clients import ApiError, Kms
from tests.hsm_support import extra_token, requires_softhsm, shared_token
from tests.servers import TEST_HSM_STORE, InProcessServer, _hsm_settings, inprocess_server, process_server, run_openkms

pytestmark = requires_softhsm


@pytest.fixture(scope="module")
def token() -> Iterator[TokenSessions]:
    sessions = open_token(shared_token())
    yield sessions
    release(sessions)


def destroy_out_of_band(token: TokenSessions, object_id: bytes) -> int:
    """What an HSM administrator's tool does: destroy the objects with this CKA_ID."""
    import pkcs11

    with token.session() as s:
        found = list(s.session.get_objects({pkcs11.Attribute.ID: object_id}))
        for obj in found:
            obj.destroy()
        s.forget()
        return len(found)


def expect_error(status: int, code: str, kms: Kms, action: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        kms.call(action, **params)
    assert (err.value.status, err.value.code) == (status, code), err.value.message
    return err.value


def test_a_key_whose_token_object_was_destroyed_answers_503_and_is_logged_once(
    server: InProcessServer, token: TokenSessions, caplog: pytest.LogCaptureFixture
) -> None:
    ak, secret, _ = server.new_account()
    kms = Kms("new-v3", server.endpoint, ak, secret)
    aes = kms.call("CreateKey", ProtectionLevel="HSM")["KeyMetadata"]
    ec = kms.call("CreateKey", KeySpec="EC_P256", KeyUsage="SIGN/VERIFY", ProtectionLevel="HSM")["KeyMetadata"]
    blob = kms.call("Encrypt", KeyId=aes["KeyId"], Plaintext="before")["CiphertextBlob"]
    digest = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    sign = {"KeyId": ec["KeyId"], "KeyVersionId": ec["PrimaryKeyVersion"], "Algorithm": "ECDSA_SHA_256"}
    kms.call("AsymmetricSign", **sign, Digest=digest)  # the server's sessions now cache both handles
    for key in (aes, ec):
        assert destroy_out_of_band(token, b"openkms:" + key["PrimaryKeyVersion"].encode()) >= 1

    caplog.set_level(logging.WARNING, logger="openkms")
    for _ in range(3):
        for action, params, key in (
            ("Encrypt", {"KeyId": aes["KeyId"], "Plaintext": "after"}, aes),
            ("Decrypt", {"CiphertextBlob": blob}, aes),
            ("GenerateDataKey", {"KeyId": aes["KeyId"]}, aes),
            ("AsymmetricSign", {**sign, "Digest": digest}, ec),
        ):
            err = expect_error(503, "ServiceUnavailableTemporary", kms, action, **params)
            assert TEST_HSM_STORE in err.message
            assert key["PrimaryKeyVersion"] in err.message
            assert "missing" in err.message
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("openkms") and "missing" in r.getMessage()]
    for key in (aes, ec):  # one line per lost object, however many requests met it
        about = [line for line in lines if key["PrimaryKeyVersion"] in line]
        assert len(about) == 1, lines
        assert TEST_HSM_STORE in about[0]
    # The public key is kept in the database: GetPublicKey still answers.
    assert kms.call("GetPublicKey", KeyId=ec["KeyId"], KeyVersionId=ec["PrimaryKeyVersion"])["PublicKey"]


def test_a_key_store_with_a_wrong_pin_backs_off_logs_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin, wrong = "e2e-user-pin-4411", "wrong-pin-2718"
    config = extra_token("openkms-pin-e2e", pin)
    monkeypatch.setenv("OPENKMS_TEST_KST_PIN", wrong)
    store = KeyStoreSettings(
        id="kst-pin",
        module=config.module_path,
        token_label=config.token_label,
        pin_env="OPENKMS_TEST_KST_PIN",
        softhsm2_conf=config.softhsm2_conf,
    )
    caplog.set_level(logging.INFO, logger="openkms")
    with inprocess_server(tmp_path / "data", keystores=(*_hsm_settings()["keystores"], store)) as srv:
        kms = Kms("new-v3", srv.endpoint, srv.access_key_id, srv.secret)
        other = kms.call("CreateKey", ProtectionLevel="HSM")["KeyMetadata"]["KeyId"]  # the test store
        hsm_kst_pin = {"ProtectionLevel": "HSM", "DKMSInstanceId": "kst-pin"}
        for step in range(12):
            err = expect_error(503, "ServiceUnavailableTemporary", kms, "CreateKey", **hsm_kst_pin)
            assert "kst-pin" in err.message
            assert wrong not in err.message
            blob = kms.call("Encrypt", KeyId=other, Plaintext="served")["CiphertextBlob"]  # other stores serve
            assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "served"
            srv.clock.advance(20 * step)  # retries come, further and further apart
        monkeypatch.setenv("OPENKMS_TEST_KST_PIN", pin)  # the operator fixes the PIN
        srv.clock.advance(300)  # the longest pause: the next request tries again
        key = kms.call("CreateKey", **hsm_kst_pin)["KeyMetadata"]
        assert key["DKMSInstanceId"] == "kst-pin"
        blob = kms.call("Encrypt", KeyId=key["KeyId"], Plaintext="recovered")["CiphertextBlob"]
        assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "recovered"
        lines = [r.getMessage() for r in caplog.records if "kst-pin" in r.getMessage()]
        assert len([line for line in lines if "unreachable" in line]) == 1, lines  # once, not per attempt
        assert len([line for line in lines if "reachable again" in line]) == 1, lines

        # A worker that starts while the PIN is wrong: the store's existing keys answer 503 (their
        # rows still answer DescribeKey), the other store's keys are served.
        monkeypatch.setenv("OPENKMS_TEST_KST_PIN", wrong)
        srv.services.keys._backends._stores["kst-pin", ProtectionLevel.HSM].backend.close()  # as if restarted
        for action, params in (
            ("Encrypt", {"KeyId": key["KeyId"], "Plaintext": "x"}),
            ("Decrypt", {"CiphertextBlob": blob}),
        ):
            expect_error(503, "ServiceUnavailableTemporary", kms, action, **params)
            assert kms.call("Encrypt", KeyId=other, Plaintext="served")["CiphertextBlob"]
        assert kms.call("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    for record in caplog.records:
        assert pin not in record.getMessage()
        assert wrong not in record.getMessage()


def token_ids(token: TokenSessions) -> set[bytes]:
    """The CKA_ID of every key object in the token."""
    import pkcs11

    a, c = pkcs11.Attribute, pkcs11.ObjectClass
    with token.session() as s:
        return {
            bytes(o[a.ID])
            for object_class in (c.SECRET_KEY, c.PRIVATE_KEY, c.PUBLIC_KEY)
            for o in s.session.get_objects({a.CLASS: object_class, a.TOKEN: True})
        }


def make_orphans(token: TokenSessions) -> list[bytes]:
    """Objects made straight in the token with python-pkcs11, named as openkms names them, as a
    process killed between creating them and committing their rows leaves them; and one of
    another application's, which is never reported."""
    import pkcs11

    a = pkcs11.Attribute
    secret, pair = f"openkms:{uuid.uuid4()}".encode(), f"openkms:import:{uuid.uuid4()}".encode()

    def named(oid: bytes) -> dict[Any, Any]:
        return {a.TOKEN: True, a.ID: oid, a.LABEL: oid.decode()}

    with token.session() as s:
        s.session.generate_key(pkcs11.KeyType.AES, 256, store=True, template=named(secret))
        s.session.generate_key(pkcs11.KeyType.AES, 256, store=True, template=named(b"someone-else"))
        s.session.generate_keypair(
            pkcs11.KeyType.RSA, 2048, store=True, public_template=named(pair), private_template=named(pair)
        )
    return [secret, pair]


def test_hsm_reconcile_reports_orphans_at_start_and_destroys_them_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pin = "reconcile-e2e-pin-2024"
    config = extra_token("openkms-reconcile-e2e", pin)
    monkeypatch.setenv("OPENKMS_TEST_KST_REC_PIN", pin)
    store = KeyStoreSettings(
        id="kst-rec",
        module=config.module_path,
        token_label=config.token_label,
        pin_env="OPENKMS_TEST_KST_REC_PIN",
        softhsm2_conf=config.softhsm2_conf,
    )
    toml = tmp_path / "openkms.toml"
    toml.write_text(
        f'[[keystores]]\nid = "kst-rec"\nmodule = "{config.module_path}"\ntoken_label = "{config.token_label}"\n'
        f'pin_env = "OPENKMS_TEST_KST_REC_PIN"\nsofthsm2_conf = "{config.softhsm2_conf}"\n\n'
        '[hsm]\ndefault_keystore = "kst-rec"\nauto_softhsm = false\n'
    )
    data = tmp_path / "data"
    with inprocess_server(data, keystores=(store,), default_hsm_keystore="kst-rec") as srv:
        kms = Kms("new-v3", srv.endpoint, srv.access_key_id, srv.secret)
        kms.call("CreateKey", ProtectionLevel="HSM")
        kms.call("CreateKey", KeySpec="EC_P256", KeyUsage="SIGN/VERIFY", ProtectionLevel="HSM")
        external = kms.call("CreateKey", Origin="EXTERNAL", ProtectionLevel="HSM")["KeyMetadata"]["KeyId"]
        wrapping = {"WrappingAlgorithm": "RSAES_OAEP_SHA_1", "WrappingKeySpec": "RSA_2048"}
        params = kms.call("GetParametersForImport", KeyId=external, **wrapping)
        public = serialization.load_der_public_key(base64.b64decode(params["PublicKey"]))
        wrapped = public.encrypt(os.urandom(32), padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))  # type: ignore[union-attr, call-arg]
        kms.call(
            "ImportKeyMaterial",
            KeyId=external,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=base64.b64encode(wrapped).decode(),
        )
        kms.call("GetParametersForImport", KeyId=external, **wrapping)  # a wrapping key its import token still names
    sessions = open_token(config)
    try:
        referenced = {oid for oid in token_ids(sessions) if oid.startswith(b"openkms:")}
        assert len(referenced) == 5  # AES, EC pair, imported material, two wrapping key pairs
        orphans = make_orphans(sessions)

        # At start: one line for the store, with the orphans' names.
        with process_server(data, "--config", str(toml), env={"OPENKMS_TEST_KST_REC_PIN": pin}) as proc:
            lines = [line for line in proc.stderr().splitlines() if "key store kst-rec" in line]
        assert len(lines) == 1, proc.stderr()
        assert "WARNING" in lines[0]
        assert "7 token objects, 2 orphans" in lines[0]
        assert all(oid.decode() in lines[0] for oid in orphans)
        assert "openkms hsm reconcile" in lines[0]
        assert pin not in proc.stderr() + proc.stdout()

        command = ["hsm", "reconcile", "--data-dir", str(data), "--config", str(toml)]
        assert main(command) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0] == "key store kst-rec: 7 token objects, 2 orphans (no database row references them)"
        assert sorted(line.split()[-1] for line in out.splitlines()[1:]) == sorted(o.decode() for o in orphans)

        assert main([*command, "--destroy", "--grace", "0"]) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[0] == "key store kst-rec: 7 token objects, destroyed 2 orphans"
        assert token_ids(sessions) == referenced | {b"someone-else"}  # referenced and foreign objects untouched
        assert main(command) == 0
        assert capsys.readouterr().out == "key store kst-rec: 5 token objects, no orphans\n"
    finally:
        release(sessions)


def test_hsm_reconcile_creates_no_token(tmp_path: Path) -> None:
    """openkms's own SoftHSM2 token is made on first use; reconciling is not a use."""
    data = tmp_path / "data"
    done = run_openkms("hsm", "reconcile", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "key store default: 0 token objects, no orphans\n"
    assert not (data / "softhsm" / "pin.sealed").exists()
