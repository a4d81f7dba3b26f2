"""ProtectionLevel=HSM through the official SDKs: key versions live in a PKCS#11 token (SoftHSM2)
and every operation runs there; the database holds only references."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from openkms.crypto.pkcs11_session import TokenSessions, open_token, release
from openkms.settings import KeyStoreSettings
from tests.e2e.clients import ApiError, Kms
from tests.hsm_support import requires_softhsm, shared_token
from tests.servers import TEST_HSM_STORE, InProcessServer, inprocess_server

pytestmark = requires_softhsm
SHA256 = utils.Prehashed(hashes.SHA256())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def expect_error(status: int, code: str, kms: Kms, action: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        kms.call(action, **params)
    assert (err.value.status, err.value.code) == (status, code), err.value.message
    return err.value


@pytest.fixture(scope="module")
def token() -> Iterator[TokenSessions]:
    sessions = open_token(shared_token())
    yield sessions
    release(sessions)


def token_objects(token: TokenSessions, version_id: str) -> list[dict[str, Any]]:
    import pkcs11

    a = pkcs11.Attribute
    with token.session() as s:
        found = list(s.session.get_objects({a.LABEL: "openkms:" + version_id}))
        return [
            {"class": o[a.CLASS], "sensitive": o[a.SENSITIVE], "extractable": o[a.EXTRACTABLE]}
            for o in found
            if o[a.CLASS] in (pkcs11.ObjectClass.SECRET_KEY, pkcs11.ObjectClass.PRIVATE_KEY)
        ]


def stored_material(server: InProcessServer, version_id: str) -> bytes:
    with sqlite3.connect(server.data_dir / "openkms.sqlite3") as db:
        (ref,) = db.execute("SELECT material_ref FROM key_versions WHERE id = ?", (version_id,)).fetchone()
    return bytes(ref)


def test_hsm_symmetric_keys_encrypt_in_the_token(server: InProcessServer, kms: Kms, token: TokenSessions) -> None:
    key = kms.call("CreateKey", ProtectionLevel="HSM", Description="in the token")["KeyMetadata"]
    assert (key["ProtectionLevel"], key["DKMSInstanceId"]) == ("HSM", TEST_HSM_STORE)
    version_id = key["PrimaryKeyVersion"]
    assert stored_material(server, version_id) == b"pkcs11:v1:openkms:" + version_id.encode()  # a reference only
    assert token_objects(token, version_id) == [
        {"class": __import__("pkcs11").ObjectClass.SECRET_KEY, "sensitive": True, "extractable": False}
    ]
    blob = kms.call("Encrypt", KeyId=key["KeyId"], Plaintext="hsm secret", EncryptionContext={"k": "v"})
    back = kms.call("Decrypt", CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"k": "v"})
    assert back["Plaintext"] == "hsm secret"
    data_key = kms.call("GenerateDataKey", KeyId=key["KeyId"], NumberOfBytes=24)
    assert len(base64.b64decode(data_key["Plaintext"])) == 24
    assert kms.call("Decrypt", CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]


@pytest.mark.parametrize("spec", ["Aliyun_AES_128", "Aliyun_AES_192"])
def test_other_hsm_aes_sizes(kms: Kms, spec: str) -> None:
    key_id = kms.call("CreateKey", ProtectionLevel="HSM", KeySpec=spec)["KeyMetadata"]["KeyId"]
    blob = kms.call("Encrypt", KeyId=key_id, Plaintext=spec)["CiphertextBlob"]
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == spec


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("RSA_2048", "RSA_PSS_SHA_256"),
        ("RSA_2048", "RSA_PKCS1_SHA_256"),
        ("EC_P256", "ECDSA_SHA_256"),
        ("EC_P256K", "ECDSA_SHA_256"),
    ],
)
def test_hsm_signatures_verify_with_the_public_key(
    server: InProcessServer, token: TokenSessions, spec: str, algorithm: str
) -> None:
    ak, secret, _ = server.new_account()
    kms = Kms("new-v3", server.endpoint, ak, secret)  # token key generation is slow: one SDK mode here
    key = kms.call("CreateKey", KeySpec=spec, KeyUsage="SIGN/VERIFY", ProtectionLevel="HSM")["KeyMetadata"]
    version_id = key["PrimaryKeyVersion"]
    assert stored_material(server, version_id).startswith(b"pkcs11:v1:")
    [private] = token_objects(token, version_id)
    assert (private["sensitive"], private["extractable"]) == (True, False)
    digest = hashlib.sha256(b"signed inside the token").digest()
    ids = {"KeyId": key["KeyId"], "KeyVersionId": version_id, "Algorithm": algorithm}
    signature = base64.b64decode(kms.call("AsymmetricSign", **ids, Digest=b64(digest))["Value"])
    pem = kms.call("GetPublicKey", KeyId=key["KeyId"], KeyVersionId=version_id)["PublicKey"]
    public = serialization.load_pem_public_key(pem.encode())
    if algorithm == "ECDSA_SHA_256":
        public.verify(signature, digest, ec.ECDSA(SHA256))  # type: ignore[call-arg, union-attr]
    elif algorithm == "RSA_PSS_SHA_256":
        public.verify(signature, digest, padding.PSS(padding.MGF1(hashes.SHA256()), 32), SHA256)  # type: ignore[call-arg, union-attr]
    else:
        public.verify(signature, digest, padding.PKCS1v15(), SHA256)  # type: ignore[call-arg, union-attr]
    assert kms.call("AsymmetricVerify", **ids, Digest=b64(digest), Value=b64(signature))["Value"] is True


def test_hsm_rsa_decryption_and_what_the_token_cannot_do(server: InProcessServer) -> None:
    ak, secret, _ = server.new_account()
    kms = Kms("new-v3", server.endpoint, ak, secret)
    key = kms.call("CreateKey", KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT", ProtectionLevel="HSM")["KeyMetadata"]
    ids = {"KeyId": key["KeyId"], "KeyVersionId": key["PrimaryKeyVersion"]}
    public = serialization.load_pem_public_key(kms.call("GetPublicKey", **ids)["PublicKey"].encode())
    sha1 = padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)
    ciphertext = public.encrypt(b"to the token", sha1)  # type: ignore[union-attr, call-arg]
    out = kms.call("AsymmetricDecrypt", **ids, Algorithm="RSAES_OAEP_SHA_1", CiphertextBlob=b64(ciphertext))
    assert base64.b64decode(out["Plaintext"]) == b"to the token"
    # SoftHSM2 has OAEP with SHA-1 only: refused clearly, never decrypted in software instead.
    sha256 = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    other = public.encrypt(b"x", sha256)  # type: ignore[union-attr, call-arg]
    err = expect_error(
        400,
        "Rejected.UnsupportedOperation",
        kms,
        "AsymmetricDecrypt",
        **ids,
        Algorithm="RSAES_OAEP_SHA_256",
        CiphertextBlob=b64(other),
    )
    assert "SHA-1" in err.message
    for spec, usage in (("Aliyun_SM4", None), ("EC_SM2", "SIGN/VERIFY")):
        err = expect_error(
            400, "Unsupported.KeySpec", kms, "CreateKey", KeySpec=spec, KeyUsage=usage, ProtectionLevel="HSM"
        )
        assert "HSM" in err.message


def test_import_into_an_hsm_key_unwraps_in_the_token(server: InProcessServer, kms: Kms, token: TokenSessions) -> None:
    key_id = kms.call("CreateKey", Origin="EXTERNAL", ProtectionLevel="HSM")["KeyMetadata"]["KeyId"]
    expect_error(
        400, "Rejected.UnsupportedOperation", kms, "GetParametersForImport",
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048",
    )  # fmt: skip
    material = os.urandom(32)
    for algorithm, pad in (
        ("RSAES_OAEP_SHA_1", padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None)),
        ("RSAES_PKCS1_V1_5", padding.PKCS1v15()),
    ):
        params = kms.call(
            "GetParametersForImport", KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048"
        )
        public = serialization.load_der_public_key(base64.b64decode(params["PublicKey"]))
        wrapped = public.encrypt(material, pad)  # type: ignore[union-attr, call-arg]
        kms.call(
            "ImportKeyMaterial", KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=b64(wrapped)
        )
    key = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (key["KeyState"], key["ProtectionLevel"]) == ("Enabled", "HSM")
    version_id = key["PrimaryKeyVersion"]
    ref = stored_material(server, version_id)
    assert ref.startswith(b"pkcs11:v1:")
    assert material not in ref
    blob = kms.call("Encrypt", KeyId=key_id, Plaintext="imported into the token")["CiphertextBlob"]
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "imported into the token"
    kms.call("DeleteKeyMaterial", KeyId=key_id)  # the token object goes with it
    import pkcs11

    with token.session() as s:
        assert not list(s.session.get_objects({pkcs11.Attribute.ID: ref[len(b"pkcs11:v1:") :]}))


def test_many_threads_use_hsm_keys_at_once(server: InProcessServer) -> None:
    ak, secret, _ = server.new_account()
    kms = Kms("new-v3", server.endpoint, ak, secret)
    aes = kms.call("CreateKey", ProtectionLevel="HSM")["KeyMetadata"]["KeyId"]
    ec_key = kms.call("CreateKey", KeySpec="EC_P256", ProtectionLevel="HSM")["KeyMetadata"]
    public = serialization.load_pem_public_key(
        kms.call("GetPublicKey", KeyId=ec_key["KeyId"], KeyVersionId=ec_key["PrimaryKeyVersion"])["PublicKey"].encode()
    )
    failures: list[str] = []

    def work(n: int) -> None:
        client = Kms("new-v3", server.endpoint, ak, secret)
        for i in range(15):
            text = f"thread {n} message {i}"
            try:
                blob = client.call("Encrypt", KeyId=aes, Plaintext=text)["CiphertextBlob"]
                if client.call("Decrypt", CiphertextBlob=blob)["Plaintext"] != text:
                    failures.append(f"{text}: wrong plaintext")
                digest = hashlib.sha256(text.encode()).digest()
                sig = client.call(
                    "AsymmetricSign", KeyId=ec_key["KeyId"], KeyVersionId=ec_key["PrimaryKeyVersion"],
                    Algorithm="ECDSA_SHA_256", Digest=b64(digest),
                )["Value"]  # fmt: skip
                public.verify(base64.b64decode(sig), digest, ec.ECDSA(SHA256))  # type: ignore[call-arg, union-attr]
            except Exception as exc:
                failures.append(f"{text}: {exc!r}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_an_unreachable_key_store_fails_alone(tmp_path: Path) -> None:
    broken = KeyStoreSettings(
        id="kst-broken", module="/nonexistent/libpkcs11.so", token_label="x", pin_env="OPENKMS_TEST_NO_SUCH_PIN"
    )
    from tests.servers import _hsm_settings

    hsm = _hsm_settings()
    with inprocess_server(tmp_path / "data", keystores=(*hsm["keystores"], broken)) as srv:
        kms = Kms("new-v3", srv.endpoint, srv.access_key_id, srv.secret)
        for _ in range(2):  # and again after the retry pause: still a clean 503
            err = expect_error(
                503, "ServiceUnavailableTemporary", kms, "CreateKey", ProtectionLevel="HSM", DKMSInstanceId="kst-broken"
            )
            assert "kst-broken" in err.message
            assert "OPENKMS_TEST_NO_SUCH_PIN" in err.message  # names the PIN's source, never a PIN
        expect_error(400, "InvalidParameter", kms, "CreateKey", ProtectionLevel="HSM", DKMSInstanceId="kst-unknown")
        expect_error(400, "InvalidParameter", kms, "CreateKey", DKMSInstanceId=TEST_HSM_STORE)  # SOFTWARE level there
        # Every other store keeps serving.
        hsm_key = kms.call("CreateKey", ProtectionLevel="HSM", DKMSInstanceId=TEST_HSM_STORE)["KeyMetadata"]
        assert hsm_key["DKMSInstanceId"] == TEST_HSM_STORE
        soft = kms.call("CreateKey")["KeyMetadata"]
        assert soft["DKMSInstanceId"] == ""
        blob = kms.call("Encrypt", KeyId=hsm_key["KeyId"], Plaintext="still served")["CiphertextBlob"]
        assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "still served"
        stores = {s.id: s for s in srv.services.keys.key_stores()}
        assert set(stores) == {"", TEST_HSM_STORE, "kst-broken"}
