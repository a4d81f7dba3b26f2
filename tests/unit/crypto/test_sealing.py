"""The root of trust (crypto/sealing.py): AES-256-GCM sealing bound to the row's identity."""

from __future__ import annotations

import base64

import pytest

from openkms.crypto.sealing import AesGcmSealer, decode_root_key, encode_root_key, new_root_key
from openkms.domain import errors

ROOT = bytes(range(32))
AAD = b"key-version:86a9efd9-3d16-4894-bd4f-1fc43f3f2abf"
SECRET = b"material that must never leak \x00\xff"


def test_round_trip() -> None:
    sealer = AesGcmSealer(ROOT)
    sealed = sealer.seal(SECRET, AAD)
    assert sealer.unseal(sealed, AAD) == SECRET
    assert SECRET not in sealed
    assert sealed[0] == 0x01
    assert len(sealed) == 1 + 12 + len(SECRET) + 16


def test_sealing_is_randomised() -> None:
    sealer = AesGcmSealer(ROOT)
    assert sealer.seal(SECRET, AAD) != sealer.seal(SECRET, AAD)


def test_empty_plaintext() -> None:
    sealer = AesGcmSealer(ROOT)
    assert sealer.unseal(sealer.seal(b"", AAD), AAD) == b""


def test_wrong_aad_is_an_integrity_error() -> None:
    sealer = AesGcmSealer(ROOT)
    sealed = sealer.seal(SECRET, AAD)
    for aad in (b"key-version:other", b"", AAD + b"x", AAD[:-1]):
        with pytest.raises(errors.IntegrityError):
            sealer.unseal(sealed, aad)


def test_every_tampered_byte_is_an_integrity_error() -> None:
    sealer = AesGcmSealer(ROOT)
    sealed = sealer.seal(SECRET, AAD)
    for i in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[i] ^= 0x80
        with pytest.raises(errors.IntegrityError):
            sealer.unseal(bytes(tampered), AAD)


def test_truncated_or_empty_is_an_integrity_error() -> None:
    sealer = AesGcmSealer(ROOT)
    sealed = sealer.seal(SECRET, AAD)
    for cut in (0, 1, 13, 28, len(sealed) - 1):
        with pytest.raises(errors.IntegrityError):
            sealer.unseal(sealed[:cut], AAD)


def test_wrong_root_key_is_an_integrity_error() -> None:
    sealed = AesGcmSealer(ROOT).seal(SECRET, AAD)
    with pytest.raises(errors.IntegrityError):
        AesGcmSealer(bytes(32)).unseal(sealed, AAD)


def test_integrity_error_says_nothing_about_the_data() -> None:
    sealer = AesGcmSealer(ROOT)
    with pytest.raises(errors.IntegrityError) as err:
        sealer.unseal(sealer.seal(SECRET, AAD), b"other")
    text = str(err.value) + repr(err.value) + err.value.message
    assert "must never leak" not in text
    assert AAD.decode() not in text
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__


@pytest.mark.parametrize("n", [0, 16, 24, 31, 33, 64])
def test_the_root_key_is_32_bytes(n: int) -> None:
    with pytest.raises(ValueError):
        AesGcmSealer(bytes(n))


def test_root_key_encodings() -> None:
    key = new_root_key()
    assert len(key) == 32
    assert new_root_key() != key
    assert decode_root_key(encode_root_key(key)) == key
    assert decode_root_key(key.hex()) == key
    assert decode_root_key(key.hex().upper()) == key
    assert decode_root_key("  " + encode_root_key(key) + "\n") == key  # as read from a file


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not base64 at all!",
        base64.b64encode(bytes(31)).decode(),
        base64.b64encode(bytes(33)).decode(),
        "00" * 31,
        "zz" * 32,  # 64 characters but not hex
        "00" * 33,
        base64.b64encode(bytes(32)).decode().rstrip("="),  # unpadded base64 is refused
    ],
)
def test_root_key_decode_refuses_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        decode_root_key(text)
