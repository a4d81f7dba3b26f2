"""crypto/symmetric.py's raw AEAD (aead_encrypt / aead_decrypt) against Project Wycheproof's
AES-GCM and SM4-GCM vectors (tests/vectors/wycheproof, Apache-2.0, see the README there).

What is covered, honestly: openkms uses GCM only with a 96-bit nonce and a 128-bit tag (the blob
layout has room for nothing else), so the groups with those sizes are run in full: a valid vector
must encrypt to exactly its ct || tag and decrypt back; an invalid one must raise InvalidCiphertext.
Every vector of the other groups (nonces of 0 to 2056 bits other than 96) is not "skipped": it is
asserted to be refused, by both functions, because the functions accept 96-bit nonces only. The
counts of each kind are pinned below so that a change of file or of filter cannot quietly reduce
what is checked.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from openkms.crypto.symmetric import aead_decrypt, aead_encrypt
from openkms.domain import errors
from openkms.domain.specs import Cipher

VECTORS = Path(__file__).parents[2] / "vectors" / "wycheproof"

# (file, cipher, expected counts of each outcome)
FILES = [
    (
        "aes_gcm_test.json",
        Cipher.AES_GCM,
        {"valid-exact": 116, "invalid-refused": 81, "other-nonce-size-refused": 119},
    ),
    (
        "sm4_gcm_test.json",
        Cipher.SM4_GCM,
        {"valid-exact": 38, "invalid-refused": 27, "other-nonce-size-refused": 39},
    ),
]


def _groups(name: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text())
    groups: list[dict[str, Any]] = data["testGroups"]
    assert sum(len(g["tests"]) for g in groups) == data["numberOfTests"]
    return groups


@pytest.mark.parametrize(("name", "cipher", "expected"), FILES, ids=[f[0] for f in FILES])
def test_wycheproof(name: str, cipher: Cipher, expected: dict[str, int]) -> None:
    outcome: Counter[str] = Counter()
    for group in _groups(name):
        assert group["tagSize"] == 128  # every group of these files; a new tag size would need a decision
        applies = group["ivSize"] == 96
        for test in group["tests"]:
            key, iv = bytes.fromhex(test["key"]), bytes.fromhex(test["iv"])
            aad, msg = bytes.fromhex(test["aad"]), bytes.fromhex(test["msg"])
            sealed = bytes.fromhex(test["ct"] + test["tag"])
            where = f"{name} tcId {test['tcId']} ({test['comment']})"
            if not applies:
                with pytest.raises(ValueError):
                    aead_encrypt(cipher, key, iv, msg, aad)
                with pytest.raises(errors.InvalidCiphertext):
                    aead_decrypt(cipher, key, iv, sealed, aad)
                outcome["other-nonce-size-refused"] += 1
            elif test["result"] == "valid":
                assert aead_encrypt(cipher, key, iv, msg, aad) == sealed, where
                assert aead_decrypt(cipher, key, iv, sealed, aad) == msg, where
                outcome["valid-exact"] += 1
            else:
                assert test["result"] == "invalid", where  # no "acceptable" vectors in these files
                with pytest.raises(errors.InvalidCiphertext):
                    aead_decrypt(cipher, key, iv, sealed, aad)
                outcome["invalid-refused"] += 1
    assert dict(outcome) == expected


@pytest.mark.parametrize("cipher", list(Cipher))
def test_a_sealed_value_shorter_than_the_tag_is_invalid(cipher: Cipher) -> None:
    for n in range(16):
        with pytest.raises(errors.InvalidCiphertext):
            aead_decrypt(cipher, bytes(16), bytes(12), bytes(n), b"")


@pytest.mark.parametrize("cipher", list(Cipher))
def test_every_single_bit_flip_is_detected(cipher: Cipher) -> None:
    key, nonce, aad = bytes(range(16)), bytes(12), b"aad"
    sealed = aead_encrypt(cipher, key, nonce, b"some plaintext", aad)
    for i in range(len(sealed) * 8):
        tampered = bytearray(sealed)
        tampered[i // 8] ^= 1 << (i % 8)
        with pytest.raises(errors.InvalidCiphertext):
            aead_decrypt(cipher, key, nonce, bytes(tampered), aad)
    with pytest.raises(errors.InvalidCiphertext):
        aead_decrypt(cipher, key, nonce, sealed, b"aaD")
    assert aead_decrypt(cipher, key, nonce, sealed, aad) == b"some plaintext"
