"""Client keys (the instance gateway's credentials): RSA-2048 pairs whose private key leaves once
as a password-protected PKCS#12, and the RSASSA-PKCS1-v1_5-SHA256 check of a request's signature.

Parsing a DER public key costs more than the verification itself, so parsed keys are remembered
by their bytes (a client key's public key never changes; a deleted key is refused before this).
"""

from __future__ import annotations

import threading

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_CACHE_LIMIT = 4096


class RsaClientKeys:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parsed: dict[bytes, rsa.RSAPublicKey] = {}

    def issue(self, password: str) -> tuple[bytes, bytes]:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # PKCS#12 imports the X.509 modules: for an issued client key, not at every start.
        from cryptography.hazmat.primitives.serialization import pkcs12

        bundle = pkcs12.serialize_key_and_certificates(
            None, private, None, None, serialization.BestAvailableEncryption(password.encode())
        )
        return public, bundle

    def _public(self, der: bytes) -> rsa.RSAPublicKey | None:
        found = self._parsed.get(der)
        if found is None:
            try:
                loaded = serialization.load_der_public_key(der)
            except ValueError:
                return None
            if not isinstance(loaded, rsa.RSAPublicKey):
                return None
            found = loaded
            with self._lock:
                if len(self._parsed) >= _CACHE_LIMIT:
                    self._parsed.clear()
                self._parsed[der] = found
        return found

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        key = self._public(public_key)
        if key is None:
            return False
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True
