"""GenerateDataKey and GenerateDataKeyWithoutPlaintext (spec 3.5, 4.11; test plan 7)."""

from __future__ import annotations

import base64

import pytest

from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error
from tests.e2e.signed import Signer
from tests.servers import InProcessServer


def new_key(kms: Kms) -> tuple[str, str]:
    meta = kms.call("CreateKey")["KeyMetadata"]
    return meta["KeyId"], meta["PrimaryKeyVersion"]


@pytest.mark.parametrize(
    ("params", "length"),
    [
        ({}, 32),
        ({"NumberOfBytes": 16}, 16),
        ({"NumberOfBytes": 1}, 1),
        ({"NumberOfBytes": 1024}, 1024),
        ({"KeySpec": "AES_128"}, 16),
        ({"KeySpec": "AES_256"}, 32),
        ({"KeySpec": "AES_128", "NumberOfBytes": 24}, 24),  # NumberOfBytes wins over KeySpec
        ({"KeySpec": "AES_256", "NumberOfBytes": 7}, 7),
    ],
)
def test_data_key_sizes_and_decrypt_invariant(kms: Kms, params: dict[str, object], length: int) -> None:
    key_id, version_id = new_key(kms)
    out = kms.call("GenerateDataKey", KeyId=key_id, **params)
    assert (out["KeyId"], out["KeyVersionId"]) == (key_id, version_id)
    assert len(base64.b64decode(out["Plaintext"], validate=True)) == length
    # Decrypt gives back the data key's base64 text, exactly as GenerateDataKey returned it.
    back = kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"])
    assert back["Plaintext"] == out["Plaintext"]
    assert (back["KeyId"], back["KeyVersionId"]) == (key_id, version_id)


def test_data_keys_are_fresh_and_bound_to_the_context(kms: Kms) -> None:
    key_id, _ = new_key(kms)
    ctx = {"purpose": "envelope", "tenant": "t1"}
    first = kms.call("GenerateDataKey", KeyId=key_id, EncryptionContext=ctx)
    second = kms.call("GenerateDataKey", KeyId=key_id, EncryptionContext=ctx)
    assert first["Plaintext"] != second["Plaintext"]
    assert first["CiphertextBlob"] != second["CiphertextBlob"]
    reordered = {"tenant": "t1", "purpose": "envelope"}
    assert (
        kms.call("Decrypt", CiphertextBlob=first["CiphertextBlob"], EncryptionContext=reordered)["Plaintext"]
        == first["Plaintext"]
    )
    expect_error(400, "InvalidParameter", kms, "Decrypt", CiphertextBlob=first["CiphertextBlob"])


def test_without_plaintext(kms: Kms) -> None:
    key_id, version_id = new_key(kms)
    kms.call("CreateAlias", AliasName="alias/dk", KeyId=key_id)
    out = kms.call("GenerateDataKeyWithoutPlaintext", KeyId="alias/dk", NumberOfBytes=48, EncryptionContext={"a": "b"})
    assert "Plaintext" not in out
    assert (out["KeyId"], out["KeyVersionId"]) == (key_id, version_id)
    back = kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"a": "b"})
    assert len(base64.b64decode(back["Plaintext"], validate=True)) == 48
    default = kms.call("GenerateDataKeyWithoutPlaintext", KeyId=key_id, KeySpec="AES_128")
    back = kms.call("Decrypt", CiphertextBlob=default["CiphertextBlob"])
    assert len(base64.b64decode(back["Plaintext"])) == 16


@pytest.mark.parametrize("action", ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"])
def test_bad_sizes_and_specs(kms: Kms, action: str) -> None:
    key_id, _ = new_key(kms)
    for n in (0, 1025, -1):
        err = expect_error(400, "InvalidParameter", kms, action, KeyId=key_id, NumberOfBytes=n)
        assert "NumberOfBytes" in err.message
    for spec in ("AES_512", "aes_256", "Aliyun_AES_256"):
        err = expect_error(400, "InvalidParameter", kms, action, KeyId=key_id, KeySpec=spec)
        assert "KeySpec" in err.message
    expect_error(400, "MissingParameter", kms, action)


def test_non_numeric_number_of_bytes(server: InProcessServer) -> None:
    """The SDKs type NumberOfBytes as an integer; a hand-made request can send anything."""
    signer = Signer.for_new_account(server)
    key_id = signer.v1("CreateKey").send().json()["KeyMetadata"]["KeyId"]
    for value in ("abc", "1.5", "16 bytes", "99999999999999999999999"):
        resp = signer.v1("GenerateDataKey", {"KeyId": key_id, "NumberOfBytes": value}).send()
        assert (resp.status_code, resp.json()["Code"]) == (400, "InvalidParameter"), value
    # Surrounding spaces are tolerated; an empty value means "absent", so the default 32 bytes.
    for value, length in ((" 16 ", 16), ("", 32)):
        resp = signer.v1("GenerateDataKey", {"KeyId": key_id, "NumberOfBytes": value}).send()
        assert resp.status_code == 200, resp.text
        assert len(base64.b64decode(resp.json()["Plaintext"])) == length
