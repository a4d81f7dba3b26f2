"""Symmetric AEAD with a per-message derived key: AES-GCM (128/192/256) and SM4-GCM.

The per-message key is HKDF(material, salt=random 16 bytes), with SHA-256 for AES and SM3 for
SM4, so that each message gets a fresh key and random 96-bit nonces never approach the 2^32
per-key limit of NIST SP 800-38D. See ``domain/ciphertext.py`` for the blob layout. Each cipher's
hash, HKDF info and AEAD are its row in ``crypto/algorithms.py``.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openkms.crypto.algorithms import AEADS
from openkms.domain import errors
from openkms.domain.ciphertext import NONCE_LEN, SALT_LEN, TAG_LEN, SealedMessage
from openkms.domain.specs import Cipher


def derive_message_key(cipher: Cipher, material: bytes, salt: bytes) -> bytes:
    aead = AEADS[cipher]
    return HKDF(algorithm=aead.kdf_hash(), length=len(material), salt=salt, info=aead.info).derive(material)


def aead_encrypt(cipher: Cipher, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Raw AEAD: returns ciphertext || 16-byte tag. The nonce is 96 bits, the only size the blob
    layout has room for (other sizes go through GHASH, and NIST SP 800-38D advises against them)."""
    if len(nonce) != NONCE_LEN:
        raise ValueError("the GCM nonce must be 12 bytes")
    return AEADS[cipher].seal(key, nonce, plaintext, aad)


def aead_decrypt(cipher: Cipher, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Raw AEAD: ``sealed`` is ciphertext || 16-byte tag. Raises InvalidCiphertext on any mismatch."""
    if len(sealed) < TAG_LEN or len(nonce) != NONCE_LEN:
        raise errors.InvalidCiphertext()
    try:
        return AEADS[cipher].open(key, nonce, sealed, aad)
    except (InvalidTag, ValueError):
        raise errors.InvalidCiphertext() from None


def encrypt_message(cipher: Cipher, material: bytes, aad: bytes, plaintext: bytes) -> SealedMessage:
    salt, nonce = os.urandom(SALT_LEN), os.urandom(NONCE_LEN)
    key = derive_message_key(cipher, material, salt)
    return SealedMessage(salt, nonce, aead_encrypt(cipher, key, nonce, plaintext, aad))


def decrypt_message(cipher: Cipher, material: bytes, aad: bytes, salt: bytes, nonce: bytes, sealed: bytes) -> bytes:
    key = derive_message_key(cipher, material, salt)
    return aead_decrypt(cipher, key, nonce, sealed, aad)


class AesGcmDataCipher:
    """The DataCipher port: AES-GCM with a caller-held data key of 16, 24 or 32 bytes and a random
    96-bit nonce per value (each data key encrypts one value)."""

    def seal(self, data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_LEN)
        return nonce + aead_encrypt(Cipher.AES_GCM, data_key, nonce, plaintext, aad)

    def open(self, data_key: bytes, sealed: bytes, aad: bytes) -> bytes:
        return aead_decrypt(Cipher.AES_GCM, data_key, sealed[:NONCE_LEN], sealed[NONCE_LEN:], aad)
