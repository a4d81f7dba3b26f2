"""HSM key stores that misbehave: a token object destroyed behind openkms's back, a key store
whose PIN is wrong, objects in a token that no database row references."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openkms.crypto.pkcs11_session import TokenSessions, open_token, release
from openkms.settings import KeyStoreSettings
from tests.e2e.clients import ApiError, Kms
from tests.hsm_support import extra_token, requires_softhsm, shared_token
from tests.servers import TEST_HSM_STORE, InProcessServer, _hsm_settings, inprocess_server

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
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("openkms") and "kst-pin" in r.getMessage()]
    assert len([line for line in lines if "unreachable" in line]) == 1, lines  # once, not per attempt
    assert len([line for line in lines if "reachable again" in line]) == 1, lines
    for record in caplog.records:
        assert pin not in record.getMessage()
        assert wrong not in record.getMessage()
