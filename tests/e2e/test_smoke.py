from __future__ import annotations

import pytest

from tests.e2e.clients import ApiError, Kms


def test_encrypt_decrypt_roundtrip_with_reordered_context(kms: Kms) -> None:
    key = kms.call("CreateKey", Description="smoke")["KeyMetadata"]
    out = kms.call("Encrypt", KeyId=key["KeyId"], Plaintext="hello wörld *~", EncryptionContext={"a": "1", "b": "2"})
    assert out["KeyId"] == key["KeyId"]
    back = kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "2", "a": "1"})
    assert back["Plaintext"] == "hello wörld *~"
    with pytest.raises(ApiError) as err:
        kms.call("Decrypt", CiphertextBlob=out["CiphertextBlob"])
    assert (err.value.status, err.value.code) == (400, "InvalidParameter")
    assert err.value.request_id
