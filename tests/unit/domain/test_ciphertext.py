"""The frozen symmetric blob layout of domain/ciphertext.py (format 1). The known-good blobs
that pin the whole encryption (layout + derivation + AEAD) are in tests/unit/crypto/test_known_blobs.py."""

from __future__ import annotations

import pytest

from openkms.domain import ciphertext, errors
from openkms.domain.ciphertext import Envelope

VERSION = "86a9efd9-3d16-4894-bd4f-1fc43f3f2abf"
SALT = bytes(range(16))
NONCE = bytes(range(100, 112))
SEALED = b"ciphertext" + bytes(16)


def test_layout_offsets() -> None:
    blob = ciphertext.pack(Envelope(VERSION, SALT, NONCE, SEALED))
    assert blob[0:36] == VERSION.encode("ascii")
    assert blob[36] == 0x01
    assert blob[37:53] == SALT
    assert blob[53:65] == NONCE
    assert blob[65:] == SEALED
    assert len(blob) == 65 + len(SEALED)


def test_constants_are_frozen() -> None:
    assert (ciphertext.VERSION_ID_LEN, ciphertext.FORMAT_V1, ciphertext.SALT_LEN) == (36, 1, 16)
    assert (ciphertext.NONCE_LEN, ciphertext.TAG_LEN, ciphertext.HEADER_LEN, ciphertext.MIN_LEN) == (12, 16, 37, 81)


def test_round_trip() -> None:
    env = Envelope(VERSION, SALT, NONCE, SEALED)
    assert ciphertext.unpack(ciphertext.pack(env)) == env


def test_the_smallest_blob_has_an_empty_ciphertext() -> None:
    env = Envelope(VERSION, SALT, NONCE, bytes(16))
    blob = ciphertext.pack(env)
    assert len(blob) == ciphertext.MIN_LEN
    assert ciphertext.unpack(blob) == env


def test_header_and_associated_data() -> None:
    assert ciphertext.header(VERSION) == VERSION.encode() + b"\x01"
    assert ciphertext.associated_data(VERSION, b'{"a":"1"}') == VERSION.encode() + b'\x01{"a":"1"}'
    assert Envelope(VERSION, SALT, NONCE, SEALED).header() == ciphertext.header(VERSION)


@pytest.mark.parametrize("bad", ["short", VERSION + "x", "ü" * 36])
def test_header_needs_a_36_character_ascii_id(bad: str) -> None:
    with pytest.raises((ValueError, UnicodeEncodeError)):
        ciphertext.header(bad)


@pytest.mark.parametrize(
    ("salt", "nonce", "sealed"),
    [(SALT[:-1], NONCE, SEALED), (SALT, NONCE + b"x", SEALED), (SALT, NONCE, bytes(15))],
)
def test_pack_refuses_wrong_lengths(salt: bytes, nonce: bytes, sealed: bytes) -> None:
    with pytest.raises(ValueError):
        ciphertext.pack(Envelope(VERSION, salt, nonce, sealed))


def test_unpack_refuses_short_blobs() -> None:
    blob = ciphertext.pack(Envelope(VERSION, SALT, NONCE, bytes(16)))
    for cut in range(len(blob)):
        with pytest.raises(errors.InvalidCiphertext):
            ciphertext.unpack(blob[:cut])


@pytest.mark.parametrize("fmt", [0x00, 0x03, 0xFF])
def test_unpack_refuses_unknown_formats(fmt: int) -> None:
    blob = bytearray(ciphertext.pack(Envelope(VERSION, SALT, NONCE, SEALED)))
    blob[36] = fmt
    with pytest.raises(errors.InvalidCiphertext):
        ciphertext.unpack(bytes(blob))


def test_unpack_refuses_a_non_ascii_version_id() -> None:
    blob = bytearray(ciphertext.pack(Envelope(VERSION, SALT, NONCE, SEALED)))
    blob[0] = 0xC3
    with pytest.raises(errors.InvalidCiphertext):
        ciphertext.unpack(bytes(blob))


def test_invalid_ciphertext_is_an_invalid_parameter_naming_the_blob() -> None:
    err = errors.InvalidCiphertext()
    assert isinstance(err, errors.InvalidParameter)
    assert err.name == "CiphertextBlob"
