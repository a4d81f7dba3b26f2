"""Asymmetric keys through both SDK generations: signatures and ciphertexts are standard, so
they verify and decrypt with `cryptography` and the `openssl` command line using only the
GetPublicKey PEM."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tests.e2e.clients import ApiError, Kms
from tests.servers import InProcessServer

SHA256 = utils.Prehashed(hashes.SHA256())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def create(kms: Kms, spec: str, usage: str) -> tuple[str, str]:
    key = kms.call("CreateKey", KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    assert (key["KeySpec"], key["KeyUsage"], key["KeyState"]) == (spec, usage, "Enabled")
    assert key["AutomaticRotation"] == "Disabled"
    versions = kms.call("ListKeyVersions", KeyId=key["KeyId"])["KeyVersions"]["KeyVersion"]
    assert len(versions) == 1
    return key["KeyId"], versions[0]["KeyVersionId"]


def public_key(kms: Kms, key_id: str, version_id: str) -> Any:
    out = kms.call("GetPublicKey", KeyId=key_id, KeyVersionId=version_id)
    assert out["PublicKey"].startswith("-----BEGIN PUBLIC KEY-----\n")
    assert out["PublicKey"].endswith("-----END PUBLIC KEY-----\n")
    return serialization.load_pem_public_key(out["PublicKey"].encode())


def expect_error(status: int, code: str, kms: Kms, action: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as err:
        kms.call(action, **params)
    assert (err.value.status, err.value.code) == (status, code), err.value.message
    return err.value


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("RSA_2048", "RSA_PSS_SHA_256"),
        ("RSA_2048", "RSA_PKCS1_SHA_256"),
        ("RSA_3072", "RSA_PSS_SHA_256"),
        ("EC_P256", "ECDSA_SHA_256"),
        ("EC_P256K", "ECDSA_SHA_256"),
    ],
)
def test_sign_verifies_locally_and_through_the_api(kms: Kms, spec: str, algorithm: str) -> None:
    key_id, version_id = create(kms, spec, "SIGN/VERIFY")
    digest = hashlib.sha256(b"this is message\n").digest()
    out = kms.call("AsymmetricSign", KeyId=key_id, KeyVersionId=version_id, Algorithm=algorithm, Digest=b64(digest))
    assert (out["KeyId"], out["KeyVersionId"]) == (key_id, version_id)
    signature = base64.b64decode(out["Value"])
    pub = public_key(kms, key_id, version_id)
    if algorithm == "ECDSA_SHA_256":
        assert signature[0] == 0x30  # DER SEQUENCE{r, s}
        pub.verify(signature, digest, ec.ECDSA(SHA256))
    elif algorithm == "RSA_PSS_SHA_256":
        pub.verify(signature, digest, padding.PSS(padding.MGF1(hashes.SHA256()), 32), SHA256)
    else:
        pub.verify(signature, digest, padding.PKCS1v15(), SHA256)

    verify = {"KeyId": key_id, "KeyVersionId": version_id, "Algorithm": algorithm}
    assert kms.call("AsymmetricVerify", **verify, Digest=b64(digest), Value=out["Value"])["Value"] is True
    other = hashlib.sha256(b"another message").digest()
    assert kms.call("AsymmetricVerify", **verify, Digest=b64(other), Value=out["Value"])["Value"] is False
    # A malformed signature is false, not an error.
    assert kms.call("AsymmetricVerify", **verify, Digest=b64(digest), Value=b64(b"\x30\x01"))["Value"] is False


def test_signatures_verify_with_the_openssl_command_line(kms: Kms, tmp_path: Path) -> None:
    message = b"signed by openkms, checked by openssl\n"
    (tmp_path / "msg").write_bytes(message)
    digest = hashlib.sha256(message).digest()
    for spec, algorithm, extra in (
        ("RSA_2048", "RSA_PSS_SHA_256", ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1"]),
        ("EC_P256", "ECDSA_SHA_256", []),
        ("EC_P256K", "ECDSA_SHA_256", []),
    ):
        key_id, version_id = create(kms, spec, "SIGN/VERIFY")
        pem = kms.call("GetPublicKey", KeyId=key_id, KeyVersionId=version_id)["PublicKey"]
        (tmp_path / "pub.pem").write_text(pem)
        sig = kms.call("AsymmetricSign", KeyId=key_id, KeyVersionId=version_id, Algorithm=algorithm, Digest=b64(digest))
        (tmp_path / "sig").write_bytes(base64.b64decode(sig["Value"]))
        result = subprocess.run(
            ["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), *extra,
             "-signature", str(tmp_path / "sig"), str(tmp_path / "msg")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (spec, result.stdout, result.stderr)
        assert "Verified OK" in result.stdout


@pytest.mark.parametrize(
    ("spec", "algorithm", "limit"),
    [
        ("RSA_2048", "RSAES_OAEP_SHA_256", 190),
        ("RSA_2048", "RSAES_OAEP_SHA_1", 214),
        ("RSA_3072", "RSAES_OAEP_SHA_256", 318),
    ],
)
def test_encrypt_decrypt_both_directions_and_size_limit(kms: Kms, spec: str, algorithm: str, limit: int) -> None:
    key_id, version_id = create(kms, spec, "ENCRYPT/DECRYPT")
    ids = {"KeyId": key_id, "KeyVersionId": version_id, "Algorithm": algorithm}
    plaintext = bytes(range(256))[:limit]
    out = kms.call("AsymmetricEncrypt", **ids, Plaintext=b64(plaintext))
    assert (
        base64.b64decode(kms.call("AsymmetricDecrypt", **ids, CiphertextBlob=out["CiphertextBlob"])["Plaintext"])
        == plaintext
    )
    # Encrypted locally with only the public key, decrypted by openkms.
    h = hashes.SHA256() if algorithm.endswith("256") else hashes.SHA1()
    local = public_key(kms, key_id, version_id).encrypt(b"local secret", padding.OAEP(padding.MGF1(h), h, None))
    back = kms.call("AsymmetricDecrypt", **ids, CiphertextBlob=b64(local))
    assert base64.b64decode(back["Plaintext"]) == b"local secret"
    expect_error(400, "InvalidParameter", kms, "AsymmetricEncrypt", **ids, Plaintext=b64(bytes(limit + 1)))
    expect_error(400, "InvalidParameter", kms, "AsymmetricDecrypt", **ids, CiphertextBlob=b64(b"\x00" * 16))


def test_spec_usage_algorithm_and_version_refusals(kms: Kms) -> None:
    expect_error(400, "InvalidParameter", kms, "CreateKey", KeySpec="EC_P256", KeyUsage="ENCRYPT/DECRYPT")
    expect_error(
        400, "Rejected.UnsupportedOperation", kms, "CreateKey",
        KeySpec="RSA_2048", EnableAutomaticRotation=True, RotationInterval="30d",
    )  # fmt: skip
    expect_error(400, "Unsupported.Origin", kms, "CreateKey", KeySpec="RSA_2048", Origin="EXTERNAL")
    key_id, version_id = create(kms, "RSA_2048", "SIGN/VERIFY")
    digest = b64(hashlib.sha256(b"x").digest())
    ids = {"KeyId": key_id, "KeyVersionId": version_id}
    expect_error(400, "InvalidParameter", kms, "AsymmetricSign", **ids, Algorithm="ECDSA_SHA_256", Digest=digest)
    expect_error(
        400, "InvalidParameter", kms, "AsymmetricSign", **ids, Algorithm="RSA_PSS_SHA_256", Digest=b64(b"short")
    )
    expect_error(
        400,
        "Rejected.UnsupportedOperation",
        kms,
        "AsymmetricEncrypt",
        **ids,
        Algorithm="RSAES_OAEP_SHA_256",
        Plaintext=b64(b"x"),
    )
    expect_error(
        400, "MissingParameter", kms, "AsymmetricSign", KeyId=key_id, Algorithm="RSA_PSS_SHA_256", Digest=digest
    )
    expect_error(
        404,
        "Forbidden.KeyVersionNotFound",
        kms,
        "AsymmetricSign",
        KeyId=key_id,
        KeyVersionId="0" * 36,
        Algorithm="RSA_PSS_SHA_256",
        Digest=digest,
    )
    aes = kms.call("CreateKey")["KeyMetadata"]
    expect_error(
        400,
        "Rejected.UnsupportedOperation",
        kms,
        "GetPublicKey",
        KeyId=aes["KeyId"],
        KeyVersionId=aes["PrimaryKeyVersion"],
    )
    expect_error(400, "Rejected.UnsupportedOperation", kms, "Encrypt", KeyId=key_id, Plaintext="x")
    kms.call("DisableKey", KeyId=key_id)
    expect_error(409, "Rejected.Disabled", kms, "AsymmetricSign", **ids, Algorithm="RSA_PSS_SHA_256", Digest=digest)
    expect_error(409, "Rejected.Disabled", kms, "GetPublicKey", **ids)
    kms.call("EnableKey", KeyId=key_id)
    expect_error(
        400,
        "DryRunOperationError",
        kms,
        "AsymmetricSign",
        **ids,
        Algorithm="RSA_PSS_SHA_256",
        Digest=digest,
        DryRun="true",
    )


def test_create_key_version_spacing(server: InProcessServer, kms: Kms) -> None:
    key_id, first = create(kms, "EC_P256", "SIGN/VERIFY")
    expect_error(400, "Rejected.UnsupportedOperation", kms, "CreateKeyVersion", KeyId=key_id)
    aes = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    expect_error(400, "Rejected.UnsupportedOperation", kms, "CreateKeyVersion", KeyId=aes)
    server.clock.advance(7 * 86400 + 5)
    try:
        second = kms.call("CreateKeyVersion", KeyId=key_id)["KeyVersion"]
        expect_error(400, "Rejected.UnsupportedOperation", kms, "CreateKeyVersion", KeyId=key_id)
    finally:
        server.clock.advance(-(7 * 86400 + 5))
    versions = [v["KeyVersionId"] for v in kms.call("ListKeyVersions", KeyId=key_id)["KeyVersions"]["KeyVersion"]]
    assert versions == [second["KeyVersionId"], first]  # newest first
    digest = b64(hashlib.sha256(b"v2").digest())
    for version in versions:  # every version signs, each with its own key
        sig = kms.call("AsymmetricSign", KeyId=key_id, KeyVersionId=version, Algorithm="ECDSA_SHA_256", Digest=digest)
        assert (
            kms.call(
                "AsymmetricVerify",
                KeyId=key_id,
                KeyVersionId=version,
                Algorithm="ECDSA_SHA_256",
                Digest=digest,
                Value=sig["Value"],
            )["Value"]
            is True
        )
    assert (
        public_key(kms, key_id, versions[0]).public_numbers() != public_key(kms, key_id, versions[1]).public_numbers()
    )


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"])
def test_generate_and_export_data_key(kms: Kms, algorithm: str) -> None:
    cmk = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    wrapping = rsa.generate_private_key(65537, 2048)
    blob = b64(
        wrapping.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    h = hashes.SHA256() if algorithm.endswith("256") else hashes.SHA1()
    oaep = padding.OAEP(padding.MGF1(h), h, None)
    made = kms.call(
        "GenerateAndExportDataKey",
        KeyId=cmk,
        PublicKeyBlob=blob,
        WrappingKeySpec="RSA_2048",
        WrappingAlgorithm=algorithm,
        EncryptionContext={"purpose": "export"},
    )
    raw = wrapping.decrypt(base64.b64decode(made["ExportedDataKey"]), oaep)
    assert len(raw) == 32
    plain = kms.call("Decrypt", CiphertextBlob=made["CiphertextBlob"], EncryptionContext={"purpose": "export"})[
        "Plaintext"
    ]
    assert base64.b64decode(plain) == raw
    again = kms.call(
        "ExportDataKey", CiphertextBlob=made["CiphertextBlob"], PublicKeyBlob=blob, WrappingKeySpec="RSA_2048",
        WrappingAlgorithm=algorithm, EncryptionContext={"purpose": "export"},
    )  # fmt: skip
    assert wrapping.decrypt(base64.b64decode(again["ExportedDataKey"]), oaep) == raw
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    wrong = b64(p256.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    expect_error(
        400, "InvalidParameter", kms, "GenerateAndExportDataKey",
        KeyId=cmk, PublicKeyBlob=wrong, WrappingKeySpec="RSA_2048", WrappingAlgorithm=algorithm,
    )  # fmt: skip
    expect_error(
        400, "InvalidParameter", kms, "GenerateAndExportDataKey",
        KeyId=cmk, PublicKeyBlob=blob, WrappingKeySpec="RSA_2048", WrappingAlgorithm="SM2PKE",
    )  # fmt: skip


def test_reencrypt_from_an_asymmetric_ciphertext(kms: Kms) -> None:
    key_id, version_id = create(kms, "RSA_2048", "ENCRYPT/DECRYPT")
    aes = kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    ct = kms.call(
        "AsymmetricEncrypt",
        KeyId=key_id,
        KeyVersionId=version_id,
        Algorithm="RSAES_OAEP_SHA_256",
        Plaintext=b64(b"moving"),
    )
    out = kms.call(
        "ReEncrypt", CiphertextBlob=ct["CiphertextBlob"], DestinationKeyId=aes, SourceKeyId=key_id,
        SourceKeyVersionId=version_id, SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )  # fmt: skip
    assert out["KeyId"] == aes
    assert kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"])["Plaintext"] == "moving"
