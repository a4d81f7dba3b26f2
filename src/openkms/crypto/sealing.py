"""The root of trust: seals key material and secrets at rest with AES-256-GCM.

Sealed layout: ``0x01 || nonce(12) || ciphertext || tag(16)``. The associated data is the identity
of the row the secret belongs to (for example ``key-version:<id>``), so a sealed value copied into
another row fails to unseal.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openkms.domain import errors

ROOT_KEY_BYTES = 32
_FORMAT = 0x01
_NONCE = 12
_DOMAIN = b"openkms-seal-v1|"


class AesGcmSealer:
    def __init__(self, root_key: bytes) -> None:
        if len(root_key) != ROOT_KEY_BYTES:
            raise ValueError("the root key must be 32 bytes")
        self._aead = AESGCM(root_key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return bytes([_FORMAT]) + nonce + self._aead.encrypt(nonce, plaintext, _DOMAIN + aad)

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        if len(sealed) < 1 + _NONCE + 16 or sealed[0] != _FORMAT:
            raise errors.IntegrityError("data")
        try:
            return self._aead.decrypt(sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :], _DOMAIN + aad)
        except InvalidTag:
            raise errors.IntegrityError("data") from None


def derive_key(root_key: bytes, purpose: str) -> bytes:
    """A 32-byte key for one named purpose (HKDF-SHA256 over the root key).

    Every node and worker that holds the same root key derives the same key, and a derived key
    reveals nothing about the root key or about keys derived for other purposes.
    """
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"openkms-derive-v1|" + purpose.encode())
    return hkdf.derive(root_key)


def new_root_key() -> bytes:
    return os.urandom(ROOT_KEY_BYTES)


def encode_root_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def decode_root_key(text: str) -> bytes:
    """Accepts base64 (the form openkms writes) or 64 hex digits."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("the root key must be 32 bytes, base64- or hex-encoded") from None
    if len(raw) != ROOT_KEY_BYTES:
        raise ValueError("the root key must be 32 bytes, base64- or hex-encoded")
    return raw
