"""EC_SM2 keys through both SDK generations (GB/T 32918): SM2DSA over e = SM3(Z_A || M) with the
default user id, SM2PKE ciphertexts in GM/T 0009 DER C1C3C2; checked with the openssl command
line (distid set explicitly) and with gmalg as an independent implementation."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import gmalg
import pytest

from openkms.crypto import sm2
from tests.e2e.clients import ApiError, Kms

USER_ID = b"1234567812345678"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def openssl(*args: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *args], input=data, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def sm2_key(kms: Kms, usage: str) -> tuple[str, str, str]:
    key = kms.call("CreateKey", KeySpec="EC_SM2", KeyUsage=usage)["KeyMetadata"]
    pem = kms.call("GetPublicKey", KeyId=key["KeyId"], KeyVersionId=key["PrimaryKeyVersion"])["PublicKey"]
    return key["KeyId"], key["PrimaryKeyVersion"], pem


def test_sm2dsa_signatures_verify_with_openssl_and_gmalg(kms: Kms, tmp_path: Path) -> None:
    key_id, version_id, pem = sm2_key(kms, "SIGN/VERIFY")
    (tmp_path / "pub.pem").write_text(pem)
    message = b"signed with SM2 by openkms"
    (tmp_path / "msg").write_bytes(message)
    public = sm2.Sm2PublicKey.from_pem(pem.encode())
    digest = public.digest(message, USER_ID)  # SM3(Z_A || M): what a client sends
    ids = {"KeyId": key_id, "KeyVersionId": version_id, "Algorithm": "SM2DSA"}
    signature = base64.b64decode(kms.call("AsymmetricSign", **ids, Digest=b64(digest))["Value"])
    (tmp_path / "sig").write_bytes(signature)
    out = openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "pub.pem"), "-rawin", "-digest", "sm3",
        "-pkeyopt", "distid:1234567812345678", "-in", str(tmp_path / "msg"), "-sigfile", str(tmp_path / "sig"),
    )  # fmt: skip
    assert b"Signature Verified Successfully" in out
    x, y = public.point()
    verifier = gmalg.SM2(pk=b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big"), uid=USER_ID)
    r, s = _der_pair(signature)
    assert verifier.verify(message, r.to_bytes(32, "big"), s.to_bytes(32, "big"))
    assert kms.call("AsymmetricVerify", **ids, Digest=b64(digest), Value=b64(signature))["Value"] is True
    other = public.digest(b"another message", USER_ID)
    assert kms.call("AsymmetricVerify", **ids, Digest=b64(other), Value=b64(signature))["Value"] is False


def _der_pair(signature: bytes) -> tuple[int, int]:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    return decode_dss_signature(signature)


def test_sm2pke_both_directions_and_size_limit(kms: Kms, tmp_path: Path) -> None:
    key_id, version_id, pem = sm2_key(kms, "ENCRYPT/DECRYPT")
    (tmp_path / "pub.pem").write_text(pem)
    ids = {"KeyId": key_id, "KeyVersionId": version_id, "Algorithm": "SM2PKE"}
    local = openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(tmp_path / "pub.pem"), data=b"from openssl")
    assert (
        base64.b64decode(kms.call("AsymmetricDecrypt", **ids, CiphertextBlob=b64(local))["Plaintext"])
        == b"from openssl"
    )
    plaintext = os.urandom(6047)
    ciphertext = kms.call("AsymmetricEncrypt", **ids, Plaintext=b64(plaintext))["CiphertextBlob"]
    assert base64.b64decode(kms.call("AsymmetricDecrypt", **ids, CiphertextBlob=ciphertext)["Plaintext"]) == plaintext
    with pytest.raises(ApiError) as err:
        kms.call("AsymmetricEncrypt", **ids, Plaintext=b64(plaintext + b"!"))
    assert (err.value.status, err.value.code) == (400, "InvalidParameter")
    tampered = bytearray(base64.b64decode(ciphertext))
    tampered[-5] ^= 1
    with pytest.raises(ApiError) as err:
        kms.call("AsymmetricDecrypt", **ids, CiphertextBlob=b64(bytes(tampered)))
    assert (err.value.status, err.value.code) == (400, "InvalidParameter")


def test_export_a_data_key_under_an_sm2_public_key(kms: Kms, tmp_path: Path) -> None:
    cmk = kms.call("CreateKey", KeySpec="Aliyun_SM4")["KeyMetadata"]["KeyId"]
    openssl("genpkey", "-algorithm", "SM2", "-out", str(tmp_path / "sm2.pem"))
    der = openssl("pkey", "-in", str(tmp_path / "sm2.pem"), "-pubout", "-outform", "DER")
    made = kms.call(
        "GenerateAndExportDataKey", KeyId=cmk, PublicKeyBlob=b64(der), WrappingKeySpec="EC_SM2",
        WrappingAlgorithm="SM2PKE", NumberOfBytes=16,
    )  # fmt: skip
    (tmp_path / "exported").write_bytes(base64.b64decode(made["ExportedDataKey"]))
    raw = openssl("pkeyutl", "-decrypt", "-inkey", str(tmp_path / "sm2.pem"), "-in", str(tmp_path / "exported"))
    assert base64.b64decode(kms.call("Decrypt", CiphertextBlob=made["CiphertextBlob"])["Plaintext"]) == raw
    assert len(raw) == 16


def test_import_wrapped_with_sm2pke(kms: Kms, tmp_path: Path) -> None:
    key_id = kms.call("CreateKey", KeySpec="Aliyun_SM4", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    params: dict[str, Any] = kms.call(
        "GetParametersForImport", KeyId=key_id, WrappingAlgorithm="SM2PKE", WrappingKeySpec="EC_SM2"
    )
    (tmp_path / "wrap.der").write_bytes(base64.b64decode(params["PublicKey"]))
    material = os.urandom(16)
    wrapped = openssl(
        "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", str(tmp_path / "wrap.der"), data=material
    )
    kms.call("ImportKeyMaterial", KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=b64(wrapped))
    blob = kms.call("Encrypt", KeyId=key_id, Plaintext="SM4 under imported material")["CiphertextBlob"]
    assert kms.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "SM4 under imported material"
