"""Generates tests/vectors/known_blobs.json: symmetric ciphertext blobs made with fixed material,
salt and nonce, so that the frozen blob layout (domain/ciphertext.py) and the per-message key
derivation (crypto/symmetric.py) can never change silently.

    python tests/vectors/make_known_blobs.py          # rewrite the file
    python tests/vectors/make_known_blobs.py --check  # exit 1 if the file differs from what the code makes

The blobs are made with openkms's own code (derive_message_key, aead_encrypt, pack).
tests/unit/crypto/test_known_blobs.py decrypts every one with crypto/symmetric.decrypt_message,
and checks every one again with a second, independent implementation (HKDF written out from
RFC 5869 over hmac, GCM written out from NIST SP 800-38D over the raw block cipher, SM3 from a
pure-Python implementation), so that regenerating this file after a change of format is caught.
Never regenerate it to make a failing test pass: a blob that no longer decrypts is a customer
ciphertext that no longer decrypts.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from openkms.crypto.symmetric import aead_encrypt, derive_message_key
from openkms.domain import ciphertext, context
from openkms.domain.specs import spec_info

OUT = Path(__file__).with_name("known_blobs.json")

# Material: the FIPS-197 / SP 800-38A example keys for AES and the GB/T 32907 example key for SM4.
AES_256 = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"
AES_128 = "2b7e151628aed2a6abf7158809cf4f3c"
AES_192 = "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"
SM4 = "0123456789abcdeffedcba9876543210"

# The context is listed out of order on purpose: the canonical form sorts it.
CONTEXT = {"b": "2", "a": "1"}
UNICODE_CONTEXT = {"tenant": "42", "app": "wörld"}

CASES: list[dict[str, Any]] = [
    {
        "name": "aes256-no-context",
        "spec": "Aliyun_AES_256",
        "material": AES_256,
        "version_id": "86a9efd9-3d16-4894-bd4f-1fc43f3f2abf",
        "salt": "000102030405060708090a0b0c0d0e0f",
        "nonce": "cafebabefacedbaddecaf888",
        "context": None,
        "plaintext": "hello wörld *~",
    },
    {
        "name": "aes256-context",
        "spec": "Aliyun_AES_256",
        "material": AES_256,
        "version_id": "86a9efd9-3d16-4894-bd4f-1fc43f3f2abf",
        "salt": "101112131415161718191a1b1c1d1e1f",
        "nonce": "000000000000000000000001",
        "context": CONTEXT,
        "plaintext": "hello wörld *~",
    },
    {
        "name": "aes256-empty-plaintext",
        "spec": "Aliyun_AES_256",
        "material": AES_256,
        "version_id": "86a9efd9-3d16-4894-bd4f-1fc43f3f2abf",
        "salt": "ffffffffffffffffffffffffffffffff",
        "nonce": "ffffffffffffffffffffffff",
        "context": None,
        "plaintext": "",
    },
    {
        "name": "aes128-no-context",
        "spec": "Aliyun_AES_128",
        "material": AES_128,
        "version_id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "salt": "202122232425262728292a2b2c2d2e2f",
        "nonce": "0102030405060708090a0b0c",
        "context": None,
        "plaintext": "The quick brown fox jumps over the lazy dog",
    },
    {
        "name": "aes128-context",
        "spec": "Aliyun_AES_128",
        "material": AES_128,
        "version_id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "salt": "303132333435363738393a3b3c3d3e3f",
        "nonce": "0c0b0a090807060504030201",
        "context": UNICODE_CONTEXT,
        "plaintext": "The quick brown fox jumps over the lazy dog",
    },
    {
        "name": "aes192-no-context",
        "spec": "Aliyun_AES_192",
        "material": AES_192,
        "version_id": "d6bee1cb-2e14-4277-ba6b-73786b21a001",
        "salt": "404142434445464748494a4b4c4d4e4f",
        "nonce": "a0a1a2a3a4a5a6a7a8a9aaab",
        "context": None,
        # What GenerateDataKey seals: the base64 text of a 32-byte data key.
        "plaintext": base64.b64encode(bytes(range(32))).decode(),
    },
    {
        "name": "aes192-context",
        "spec": "Aliyun_AES_192",
        "material": AES_192,
        "version_id": "d6bee1cb-2e14-4277-ba6b-73786b21a001",
        "salt": "505152535455565758595a5b5c5d5e5f",
        "nonce": "b0b1b2b3b4b5b6b7b8b9babb",
        "context": CONTEXT,
        "plaintext": base64.b64encode(bytes(range(32))).decode(),
    },
    {
        "name": "sm4-no-context",
        "spec": "Aliyun_SM4",
        "material": SM4,
        "version_id": "7b0c9c53-5b9a-4f3e-8f6a-2c1d0e9f8a01",
        "salt": "606162636465666768696a6b6c6d6e6f",
        "nonce": "00001234567800000000abcd",
        "context": None,
        "plaintext": "国密 SM4-GCM known answer",
    },
    {
        "name": "sm4-context",
        "spec": "Aliyun_SM4",
        "material": SM4,
        "version_id": "7b0c9c53-5b9a-4f3e-8f6a-2c1d0e9f8a01",
        "salt": "707172737475767778797a7b7c7d7e7f",
        "nonce": "feedfacedeadbeeffeedface",
        "context": UNICODE_CONTEXT,
        "plaintext": "国密 SM4-GCM known answer",
    },
    # Format 2 (issue 14): bound to the context as TransferClient hashes it into the instance
    # gateway's Aad, so a blob crosses between the RPC API and the gateway.
    {
        "name": "aes256-v2-no-context",
        "format": 2,
        "spec": "Aliyun_AES_256",
        "material": AES_256,
        "version_id": "86a9efd9-3d16-4894-bd4f-1fc43f3f2abf",
        "salt": "808182838485868788898a8b8c8d8e8f",
        "nonce": "c0c1c2c3c4c5c6c7c8c9cacb",
        "context": None,
        "plaintext": "hello wörld *~",
    },
    {
        "name": "aes256-v2-context",
        "format": 2,
        "spec": "Aliyun_AES_256",
        "material": AES_256,
        "version_id": "86a9efd9-3d16-4894-bd4f-1fc43f3f2abf",
        "salt": "909192939495969798999a9b9c9d9e9f",
        "nonce": "d0d1d2d3d4d5d6d7d8d9dadb",
        "context": CONTEXT,
        "plaintext": "hello wörld *~",
    },
    {
        "name": "aes128-v2-context",
        "format": 2,
        "spec": "Aliyun_AES_128",
        "material": AES_128,
        "version_id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "salt": "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
        "nonce": "e0e1e2e3e4e5e6e7e8e9eaeb",
        "context": UNICODE_CONTEXT,
        "plaintext": base64.b64encode(bytes(range(32))).decode(),
    },
    {
        "name": "sm4-v2-context",
        "format": 2,
        "spec": "Aliyun_SM4",
        "material": SM4,
        "version_id": "7b0c9c53-5b9a-4f3e-8f6a-2c1d0e9f8a01",
        "salt": "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf",
        "nonce": "f0f1f2f3f4f5f6f7f8f9fafb",
        "context": CONTEXT,
        "plaintext": "国密 SM4-GCM known answer",
    },
]


def make_blob(case: dict[str, Any]) -> dict[str, Any]:
    info = spec_info(case["spec"])
    assert info.cipher is not None
    material = bytes.fromhex(case["material"])
    assert len(material) == info.material_bytes
    salt, nonce = bytes.fromhex(case["salt"]), bytes.fromhex(case["nonce"])
    fmt = case.get("format", ciphertext.FORMAT_V1)
    bound = context.binding(fmt, case["context"])
    aad = ciphertext.associated_data(case["version_id"], bound, fmt)
    message_key = derive_message_key(info.cipher, material, salt)
    sealed = aead_encrypt(info.cipher, message_key, nonce, case["plaintext"].encode("utf-8"), aad)
    blob = ciphertext.pack(ciphertext.Envelope(case["version_id"], salt, nonce, sealed, fmt))
    # Format 1 rows keep the keys they were written with ("canonical_context"); format 2 names its binding.
    binding_field = "canonical_context" if fmt == ciphertext.FORMAT_V1 else "binding"
    return {
        **case,
        "cipher": info.cipher.value,
        binding_field: bound.decode("utf-8"),
        "aad": aad.hex(),
        "message_key": message_key.hex(),
        "blob": base64.b64encode(blob).decode("ascii"),
    }


def build() -> dict[str, Any]:
    return {
        "description": (
            "Known-good openkms symmetric ciphertext blobs (format 0x01). Made by "
            "tests/vectors/make_known_blobs.py; see tests/vectors/README.md. Plaintexts are UTF-8 text; "
            "'material' is the key version's material, 'message_key' the HKDF-derived per-message key."
        ),
        "blobs": [make_blob(case) for case in CASES],
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if OUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(f"{OUT} differs from what the code makes now\n")
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
