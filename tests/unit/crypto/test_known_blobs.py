"""The table of known-good ciphertext blobs (tests/vectors/known_blobs.json): each decrypts with
openkms's code, and each is checked again by a second implementation written here from the
standards, so that the frozen layout and derivation can never drift silently."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_tea_openapi.sm3 import Sm3
from cryptography.hazmat.primitives.ciphers import Cipher as RawCipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openkms.crypto import symmetric
from openkms.domain import ciphertext, context, errors
from openkms.domain.specs import Cipher, spec_info

VECTORS = Path(__file__).parents[2] / "vectors"
BLOBS: list[dict[str, Any]] = json.loads((VECTORS / "known_blobs.json").read_text(encoding="utf-8"))["blobs"]
IDS = [b["name"] for b in BLOBS]


def test_the_table_covers_every_symmetric_spec_with_and_without_context() -> None:
    covered = {(b["spec"], b["context"] is not None) for b in BLOBS}
    symmetric_specs = {"Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_AES_192", "Aliyun_SM4"}
    assert covered == {(s, c) for s in symmetric_specs for c in (False, True)}


def test_the_generator_still_makes_exactly_this_file() -> None:
    sys.path.insert(0, str(VECTORS))
    try:
        import make_known_blobs
    finally:
        sys.path.remove(str(VECTORS))
    assert make_known_blobs.render() == (VECTORS / "known_blobs.json").read_text(encoding="utf-8")


# --- with openkms's own code ------------------------------------------------------------------------


def _open(entry: dict[str, Any], ctx: dict[str, str] | None) -> bytes:
    info = spec_info(entry["spec"])
    assert info.cipher is not None
    env = ciphertext.unpack(base64.b64decode(entry["blob"]))
    assert env.format == entry.get("format", 1)
    aad = ciphertext.associated_data(env.version_id, context.binding(env.format, ctx), env.format)
    return symmetric.decrypt_message(
        info.cipher, bytes.fromhex(entry["material"]), aad, env.salt, env.nonce, env.sealed
    )


@pytest.mark.parametrize("entry", BLOBS, ids=IDS)
def test_blob_decrypts_with_decrypt_message(entry: dict[str, Any]) -> None:
    env = ciphertext.unpack(base64.b64decode(entry["blob"]))
    assert env.version_id == entry["version_id"]
    assert env.salt.hex() == entry["salt"]
    assert env.nonce.hex() == entry["nonce"]
    assert _open(entry, entry["context"]).decode("utf-8") == entry["plaintext"]


@pytest.mark.parametrize("entry", BLOBS, ids=IDS)
def test_blob_needs_the_same_context_in_any_order(entry: dict[str, Any]) -> None:
    ctx = entry["context"]
    if ctx:
        reordered = dict(reversed(list(ctx.items())))
        assert list(reordered) != list(ctx)
        assert _open(entry, reordered).decode("utf-8") == entry["plaintext"]
        with pytest.raises(errors.InvalidCiphertext):
            _open(entry, None)
        with pytest.raises(errors.InvalidCiphertext):
            _open(entry, {**ctx, "extra": "x"})
    else:
        assert _open(entry, {}).decode("utf-8") == entry["plaintext"]  # empty == absent
        with pytest.raises(errors.InvalidCiphertext):
            _open(entry, {"a": "1"})


@pytest.mark.parametrize("entry", BLOBS, ids=IDS)
def test_the_derived_message_key_is_pinned(entry: dict[str, Any]) -> None:
    key = symmetric.derive_message_key(
        Cipher(entry["cipher"]), bytes.fromhex(entry["material"]), bytes.fromhex(entry["salt"])
    )
    assert key.hex() == entry["message_key"]


@pytest.mark.parametrize("entry", BLOBS[:1], ids=IDS[:1])
def test_a_blob_moved_to_another_version_id_does_not_decrypt(entry: dict[str, Any]) -> None:
    blob = bytearray(base64.b64decode(entry["blob"]))
    blob[0:1] = b"0" if blob[0:1] != b"0" else b"1"
    env = ciphertext.unpack(bytes(blob))
    aad = ciphertext.associated_data(env.version_id, context.binding(env.format, entry["context"]), env.format)
    with pytest.raises(errors.InvalidCiphertext):
        symmetric.decrypt_message(
            Cipher.AES_GCM, bytes.fromhex(entry["material"]), aad, env.salt, env.nonce, env.sealed
        )


# --- a second, independent implementation ---------------------------------------------------------
#
# HKDF from RFC 5869 section 2 over the standard library's hmac (SHA-256 from hashlib; SM3 from the
# Alibaba SDK's pure-Python implementation, not OpenSSL); GCM from NIST SP 800-38D section 7 over the
# bare block cipher (AES or SM4 in ECB mode, one block at a time). Nothing here calls openkms.

INFO = {"AES-GCM": b"openkms/v1/message-key/aes-gcm", "SM4-GCM": b"openkms/v1/message-key/sm4-gcm"}


def hkdf_rfc5869(digestmod: Any, ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, digestmod).digest()  # Extract
    okm, block, counter = b"", b"", 1
    while len(okm) < length:  # Expand
        block = hmac.new(prk, block + info + bytes([counter]), digestmod).digest()
        okm += block
        counter += 1
    return okm[:length]


def _gf_mult(x: int, y: int) -> int:
    """Multiplication in GF(2^128) with GCM's bit order (SP 800-38D, algorithm 1)."""
    r = 0xE1 << 120
    z, v = 0, y
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ r if v & 1 else v >> 1
    return z


def _ghash(h: int, data: bytes) -> int:
    y = 0
    for i in range(0, len(data), 16):
        y = _gf_mult(y ^ int.from_bytes(data[i : i + 16], "big"), h)
    return y


def _pad16(data: bytes) -> bytes:
    return data + bytes(-len(data) % 16)


def gcm_open(encrypt_block: Callable[[bytes], bytes], nonce: bytes, sealed: bytes, aad: bytes) -> bytes | None:
    """GCM decryption with a 96-bit IV and a 128-bit tag; None when the tag does not verify."""
    assert len(nonce) == 12
    ct, tag = sealed[:-16], sealed[-16:]
    h = int.from_bytes(encrypt_block(bytes(16)), "big")
    j0 = nonce + b"\x00\x00\x00\x01"
    lengths = (len(aad) * 8).to_bytes(8, "big") + (len(ct) * 8).to_bytes(8, "big")
    s = _ghash(h, _pad16(aad) + _pad16(ct) + lengths)
    expected = (int.from_bytes(encrypt_block(j0), "big") ^ s).to_bytes(16, "big")
    if not hmac.compare_digest(expected, tag):
        return None
    out = bytearray()
    for i in range(0, len(ct), 16):
        counter = nonce + ((2 + i // 16) % 2**32).to_bytes(4, "big")  # inc32 from J0
        keystream = encrypt_block(counter)
        out += bytes(a ^ b for a, b in zip(ct[i : i + 16], keystream, strict=False))
    return bytes(out)


def _block_cipher(cipher: str, key: bytes) -> Callable[[bytes], bytes]:
    algorithm = algorithms.AES(key) if cipher == "AES-GCM" else algorithms.SM4(key)

    def encrypt_block(block: bytes) -> bytes:
        enc = RawCipher(algorithm, modes.ECB()).encryptor()  # one raw block, no mode
        return enc.update(block) + enc.finalize()

    return encrypt_block


def _independent_open(entry: dict[str, Any]) -> bytes | None:
    blob = base64.b64decode(entry["blob"])
    # The layout, as documented in domain/ciphertext.py, read by offsets.
    version_id, fmt = blob[0:36].decode("ascii"), blob[36]
    salt, nonce, sealed = blob[37:53], blob[53:65], blob[65:]
    assert fmt == entry.get("format", 0x01)
    if fmt == 0x01:
        canonical = json.dumps(entry["context"] or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        binding = canonical.encode("utf-8")
    else:  # TransferClient's Aad: hex SHA-256 of k=v pairs joined by &, keys sorted; nothing without a context
        pairs = "&".join(f"{k}={v}" for k, v in sorted((entry["context"] or {}).items()))
        binding = hashlib.sha256(pairs.encode("utf-8")).hexdigest().encode() if entry["context"] else b""
    aad = version_id.encode("ascii") + bytes([fmt]) + binding
    digestmod: Any = hashlib.sha256 if entry["cipher"] == "AES-GCM" else Sm3
    material = bytes.fromhex(entry["material"])
    key = hkdf_rfc5869(digestmod, material, salt, INFO[entry["cipher"]], len(material))
    assert key.hex() == entry["message_key"]
    return gcm_open(_block_cipher(entry["cipher"], key), nonce, sealed, aad)


def test_independent_gcm_against_published_vectors() -> None:
    """The hand-written GCM reproduces a Wycheproof AES-GCM and the SM4-GCM known-answer vector."""
    wycheproof = VECTORS / "wycheproof"
    for name, tc_id, cipher in (("aes_gcm_test.json", 1, "AES-GCM"), ("sm4_gcm_test.json", 1, "SM4-GCM")):
        data = json.loads((wycheproof / name).read_text())
        test = next(t for g in data["testGroups"] for t in g["tests"] if t["tcId"] == tc_id)
        sealed = bytes.fromhex(test["ct"] + test["tag"])
        opened = gcm_open(
            _block_cipher(cipher, bytes.fromhex(test["key"])),
            bytes.fromhex(test["iv"]),
            sealed,
            bytes.fromhex(test["aad"]),
        )
        assert opened == bytes.fromhex(test["msg"])


def test_independent_hkdf_against_rfc5869_test_case_1() -> None:
    okm = hkdf_rfc5869(
        hashlib.sha256,
        bytes.fromhex("0b" * 22),
        bytes.fromhex("000102030405060708090a0b0c"),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        42,
    )
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


@pytest.mark.parametrize("entry", BLOBS, ids=IDS)
def test_blob_opens_with_the_independent_implementation(entry: dict[str, Any]) -> None:
    opened = _independent_open(entry)
    assert opened is not None, "the tag did not verify"
    assert opened.decode("utf-8") == entry["plaintext"]


def test_first_blob_opens_with_cryptography_aesgcm_and_a_hand_hkdf() -> None:
    entry = BLOBS[0]
    assert entry["spec"] == "Aliyun_AES_256"
    blob = base64.b64decode(entry["blob"])
    key = hkdf_rfc5869(hashlib.sha256, bytes.fromhex(entry["material"]), blob[37:53], INFO["AES-GCM"], 32)
    plaintext = AESGCM(key).decrypt(blob[53:65], blob[65:], blob[:37] + b"{}")
    assert plaintext == entry["plaintext"].encode("utf-8")


def test_independent_implementation_rejects_a_tampered_blob() -> None:
    entry = dict(BLOBS[1])
    blob = bytearray(base64.b64decode(entry["blob"]))
    blob[-1] ^= 0x01
    entry["blob"] = base64.b64encode(bytes(blob)).decode()
    assert _independent_open(entry) is None
