"""Symmetric AEAD with a per-message derived key: AES-GCM (128/192/256) and SM4-GCM.

The per-message key is HKDF(material, salt=random 16 bytes), with SHA-256 for AES and SM3 for
SM4, so that each message gets a fresh key and random 96-bit nonces never approach the 2^32
per-key limit of NIST SP 800-38D. See ``domain/ciphertext.py`` for the blob layout.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openkms.domain import errors
from openkms.domain.ciphertext import NONCE_LEN, SALT_LEN, TAG_LEN
from openkms.domain.specs import Cipher

_INFO = {Cipher.AES_GCM: b"openkms/v1/message-key/aes-gcm", Cipher.SM4_GCM: b"openkms/v1/message-key/sm4-gcm"}


def derive_message_key(cipher: Cipher, material: bytes, salt: bytes) -> bytes:
    algorithm: hashes.HashAlgorithm = hashes.SM3() if cipher is Cipher.SM4_GCM else hashes.SHA256()
    return HKDF(algorithm=algorithm, length=len(material), salt=salt, info=_INFO[cipher]).derive(material)


def aead_encrypt(cipher: Cipher, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Raw AEAD: returns ciphertext || 16-byte tag. The nonce is 96 bits, the only size the blob
    layout has room for (other sizes go through GHASH, and NIST SP 800-38D advises against them)."""
    if len(nonce) != NONCE_LEN:
        raise ValueError("the GCM nonce must be 12 bytes")
    if cipher is Cipher.AES_GCM:
        return AESGCM(key).encrypt(nonce, plaintext, aad)
    enc = _Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def aead_decrypt(cipher: Cipher, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Raw AEAD: ``sealed`` is ciphertext || 16-byte tag. Raises InvalidCiphertext on any mismatch."""
    if len(sealed) < TAG_LEN or len(nonce) != NONCE_LEN:
        raise errors.InvalidCiphertext()
    try:
        if cipher is Cipher.AES_GCM:
            return AESGCM(key).decrypt(nonce, sealed, aad)
        dec = _Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-TAG_LEN:])).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(sealed[:-TAG_LEN]) + dec.finalize()
    except (InvalidTag, ValueError):
        raise errors.InvalidCiphertext() from None


def encrypt_message(cipher: Cipher, material: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes, bytes]:
    salt, nonce = os.urandom(SALT_LEN), os.urandom(NONCE_LEN)
    key = derive_message_key(cipher, material, salt)
    return salt, nonce, aead_encrypt(cipher, key, nonce, plaintext, aad)


def decrypt_message(cipher: Cipher, material: bytes, aad: bytes, salt: bytes, nonce: bytes, sealed: bytes) -> bytes:
    key = derive_message_key(cipher, material, salt)
    return aead_decrypt(cipher, key, nonce, sealed, aad)
