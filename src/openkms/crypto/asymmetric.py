"""Software asymmetric keys: RSA and ECDSA (P-256, secp256k1) with ``cryptography``, SM2 on
OpenSSL's libcrypto (``crypto/sm2.py``). Every signature and ciphertext is standard, so ordinary
tools verify and produce them with only the public key.

Each operation looks its key spec or algorithm up in the catalogue (``crypto/algorithms.py``) and
turns the libraries' failures into domain errors.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm

from openkms.crypto.algorithms import CIPHERS, KEY_TYPES, SIGNATURES
from openkms.domain import errors, importing
from openkms.domain.algorithms import EncryptAlgorithm, SignAlgorithm


def unavailable_specs() -> dict[str, str]:
    """The asymmetric specs this machine cannot generate, with the reason (SM2 needs the system's
    OpenSSL 3 libcrypto with SM2 enabled)."""
    return {name: reason for name, key_type in KEY_TYPES.items() if (reason := key_type.unavailable())}


def generate(spec_name: str) -> tuple[bytes, bytes]:
    """A new key pair: (PKCS#8 DER private key, SPKI DER public key)."""
    return KEY_TYPES[spec_name].generate()


def load_private(spec_name: str, der: bytes) -> Any:
    return KEY_TYPES[spec_name].load_private(der)


def load_public(spec_name: str, der: bytes) -> Any:
    return KEY_TYPES[spec_name].load_public(der)


def sign(spec_name: str, private_key: Any, algorithm: SignAlgorithm, digest: bytes) -> bytes:
    return SIGNATURES[algorithm].sign(private_key, digest)


def verify(spec_name: str, public_key: Any, algorithm: SignAlgorithm, digest: bytes, signature: bytes) -> bool:
    try:
        return SIGNATURES[algorithm].verify(public_key, digest, signature)
    except (ValueError, UnsupportedAlgorithm):
        return False


def encrypt(public_key: Any, algorithm: EncryptAlgorithm, plaintext: bytes) -> bytes:
    return CIPHERS[algorithm].encrypt(public_key, plaintext)


def decrypt(private_key: Any, algorithm: EncryptAlgorithm, ciphertext: bytes) -> bytes:
    try:
        return CIPHERS[algorithm].decrypt(private_key, ciphertext)
    except ValueError:  # includes sm2.Sm2Error
        raise errors.InvalidParameter("CiphertextBlob", "The ciphertext does not decrypt with this key.") from None


def unwrap(private_key: Any, wrapping_algorithm: str, wrapped: bytes) -> bytes:
    """Decrypt imported key material. Every failure is InvalidKeyMaterial, never an exception
    that tells a padding error from another (RSAES-PKCS1-v1_5 decryption here uses implicit
    rejection: a bad ciphertext yields random bytes, which the caller's length and binding
    checks then refuse)."""
    try:
        return CIPHERS[wrapping_algorithm].decrypt(private_key, wrapped)
    except ValueError:  # includes sm2.Sm2Error
        raise errors.InvalidKeyMaterial(importing.UNWRAP_FAILED) from None


def key_matches_spec(spec_name: str, public_key: Any) -> bool:
    return KEY_TYPES[spec_name].matches(public_key)
