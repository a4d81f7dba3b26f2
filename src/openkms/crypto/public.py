"""Public-key operations (verify, encrypt, parse a caller's key): the same for every backend."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm

from openkms.crypto import asymmetric, pem
from openkms.crypto.algorithms import KEY_TYPES
from openkms.domain import errors
from openkms.domain.algorithms import EncryptAlgorithm, SignAlgorithm


@lru_cache(maxsize=4096)
def _load(spec_name: str, der: bytes) -> Any:
    return asymmetric.load_public(spec_name, der)


class SoftwarePublicKeyCrypto:
    def verify(
        self, spec_name: str, public_key: bytes, algorithm: SignAlgorithm, digest: bytes, signature: bytes
    ) -> bool:
        return asymmetric.verify(spec_name, _load(spec_name, public_key), algorithm, digest, signature)

    def encrypt(self, spec_name: str, public_key: bytes, algorithm: EncryptAlgorithm, plaintext: bytes) -> bytes:
        return asymmetric.encrypt(_load(spec_name, public_key), algorithm, plaintext)

    def parse_public_key(self, spec_name: str, blob: bytes, parameter: str) -> bytes:
        try:
            der = pem.to_der(blob)
        except ValueError:
            raise errors.InvalidParameter(parameter, "The public key is not valid PEM.") from None
        try:
            key = asymmetric.load_public(spec_name, der)
        except (ValueError, TypeError, UnsupportedAlgorithm):  # e.g. an EC key on an unsupported curve
            raise errors.InvalidParameter(
                parameter, f"The public key is not a {spec_name} SubjectPublicKeyInfo (base64 DER)."
            ) from None
        if not asymmetric.key_matches_spec(spec_name, key):
            raise errors.InvalidParameter(parameter, f"The public key is not a {spec_name} key.")
        return der

    def to_pem(self, public_key: bytes) -> str:
        return pem.encode(public_key)

    def generate_pair(self, spec_name: str, as_pem: bool) -> tuple[bytes, bytes]:
        if spec_name not in KEY_TYPES or spec_name in asymmetric.unavailable_specs():
            raise errors.InvalidParameter("KeyPairSpec", f"{spec_name!r} is not a key pair spec this server makes.")
        private, public = asymmetric.generate(spec_name)
        if not as_pem:
            return private, public
        return pem.encode(private, "PRIVATE KEY").encode(), pem.encode(public).encode()
