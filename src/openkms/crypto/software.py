"""The software crypto backend: material generated with the OS CSPRNG and sealed under the root key."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization

from openkms.crypto import asymmetric, symmetric
from openkms.crypto.algorithms import KEY_TYPES
from openkms.crypto.keypool import KeyPool
from openkms.domain import errors, importing
from openkms.domain.algorithms import Capabilities, EncryptAlgorithm, SignAlgorithm
from openkms.domain.ciphertext import SealedMessage
from openkms.domain.importing import ImportToken
from openkms.domain.keys import KeyVersion
from openkms.domain.ports import Sealer
from openkms.domain.specs import SpecInfo

_MAX_CACHED_KEYS = 1024


def material_aad(version_id: str) -> bytes:
    return b"key-version:" + version_id.encode()


def wrapping_key_aad(token_id: str) -> bytes:
    return b"import-wrapping-key:" + token_id.encode()


def fingerprint(material: bytes) -> bytes:
    """Binds an EXTERNAL key to its material without keeping the material: an HMAC keyed by the
    material itself, which reveals nothing about a 128-bit or larger random key."""
    return hmac.new(material, b"openkms/material-fingerprint/v1", hashlib.sha256).digest()


class SoftwareBackend:
    def __init__(self, sealer: Sealer, pool_size: int = 2, material_seed: bytes | None = None) -> None:
        self._sealer = sealer
        # Deterministic mode (dev only): symmetric material derived from the seed and the version id.
        self._material_seed = material_seed
        # Key types slow to generate (RSA); RSA_2048 pairs also serve as import wrapping keys.
        slow = [name for name, key_type in KEY_TYPES.items() if key_type.pregenerate]
        self._pool = KeyPool(asymmetric.generate, slow, pool_size)
        # Loaded private keys by version id: unsealing and parsing a key costs more than using it.
        self._private: dict[str, Any] = {}
        # Unsealed symmetric material, for the same reason: it is held in memory while in use anyway.
        self._symmetric: dict[tuple[str, bytes], bytes] = {}
        self._lock = threading.Lock()
        self._capabilities: Capabilities | None = None

    def create_symmetric(self, spec: SpecInfo, version_id: str) -> bytes:
        if self._material_seed is not None:
            from openkms.domain.seed import hkdf  # --deterministic only: the seed's module is no part of a start

            material = hkdf(self._material_seed, b"deterministic/" + version_id.encode(), spec.material_bytes)
        else:
            material = os.urandom(spec.material_bytes)
        return self._sealer.seal(material, material_aad(version_id))

    def _material(self, spec: SpecInfo, version: KeyVersion) -> bytes:
        # Keyed by the sealed bytes too: material imported again under the same version id is
        # unsealed afresh, never served from a stale entry.
        cache_key = (version.id, version.material_ref)
        material = self._symmetric.get(cache_key)
        if material is None:
            material = self._sealer.unseal(version.material_ref, material_aad(version.id))
            if spec.cipher is None or len(material) != spec.material_bytes:
                raise errors.IntegrityError("key material")
            with self._lock:
                if len(self._symmetric) >= _MAX_CACHED_KEYS:
                    self._symmetric.pop(next(iter(self._symmetric)))
                self._symmetric[cache_key] = material
        return material

    def encrypt(self, spec: SpecInfo, version: KeyVersion, aad: bytes, plaintext: bytes) -> SealedMessage:
        material = self._material(spec, version)
        assert spec.cipher is not None
        return symmetric.encrypt_message(spec.cipher, material, aad, plaintext)

    def decrypt(
        self, spec: SpecInfo, version: KeyVersion, aad: bytes, salt: bytes, nonce: bytes, sealed: bytes
    ) -> bytes:
        material = self._material(spec, version)
        assert spec.cipher is not None
        return symmetric.decrypt_message(spec.cipher, material, aad, salt, nonce, sealed)

    def random_bytes(self, n: int) -> bytes:
        return os.urandom(n)

    # --- asymmetric ---------------------------------------------------------------------------

    def create_asymmetric(self, spec: SpecInfo, version_id: str) -> tuple[bytes, bytes]:
        private_der, public_der = self._pool.take(spec.name)
        return self._sealer.seal(private_der, material_aad(version_id)), public_der

    def _private_key(self, spec: SpecInfo, version: KeyVersion) -> Any:
        key = self._private.get(version.id)
        if key is None:
            der = self._sealer.unseal(version.material_ref, material_aad(version.id))
            key = asymmetric.load_private(spec.name, der)
            with self._lock:
                if len(self._private) >= _MAX_CACHED_KEYS:
                    self._private.pop(next(iter(self._private)))
                self._private[version.id] = key
        return key

    def sign(self, spec: SpecInfo, version: KeyVersion, algorithm: SignAlgorithm, digest: bytes) -> bytes:
        return asymmetric.sign(spec.name, self._private_key(spec, version), algorithm, digest)

    def decrypt_asymmetric(
        self, spec: SpecInfo, version: KeyVersion, algorithm: EncryptAlgorithm, ciphertext: bytes
    ) -> bytes:
        return asymmetric.decrypt(self._private_key(spec, version), algorithm, ciphertext)

    def capabilities(self) -> Capabilities:
        if self._capabilities is None:  # asks once whether the system's libcrypto has SM2
            self._capabilities = Capabilities(specs=asymmetric.unavailable_specs())
        return self._capabilities

    # --- import ---------------------------------------------------------------------------------

    def create_wrapping_key(self, wrapping_spec: str, wrapping_algorithm: str, token_id: str) -> tuple[bytes, bytes]:
        private_der, public_der = self._pool.take(wrapping_spec)
        return self._sealer.seal(private_der, wrapping_key_aad(token_id)), public_der

    def import_material(
        self, spec: SpecInfo, version_id: str, token: ImportToken, wrapped: bytes
    ) -> tuple[bytes, bytes]:
        private_der = self._sealer.unseal(token.sealed_private_key, wrapping_key_aad(token.id))
        private_key = asymmetric.load_private(token.wrapping_spec, private_der)
        material = asymmetric.unwrap(private_key, token.wrapping_algorithm, wrapped)
        importing.check_material_length(material, spec.material_bytes)
        return self._sealer.seal(material, material_aad(version_id)), fingerprint(material)

    # --- seed files -------------------------------------------------------------------------------

    def adopt(self, spec: SpecInfo, version_id: str, material: bytes | None) -> tuple[bytes, bytes | None]:
        if material is None:
            if spec.symmetric:
                return self.create_symmetric(spec, version_id), None
            return self.create_asymmetric(spec, version_id)
        if spec.symmetric:
            if len(material) != spec.material_bytes:
                raise errors.InvalidKeyMaterial(f"{spec.name} material is {spec.material_bytes} bytes.")
            return self._sealer.seal(material, material_aad(version_id)), None
        public_der = _public_of(spec, material)
        return self._sealer.seal(material, material_aad(version_id)), public_der

    def reveal(self, spec: SpecInfo, version: KeyVersion) -> bytes:
        material = self._sealer.unseal(version.material_ref, material_aad(version.id))
        if spec.symmetric and len(material) != spec.material_bytes:
            raise errors.IntegrityError("key material")
        return material

    def discard(self, material_ref: bytes) -> None:
        """Sealed material lives only in its row, which the caller deletes."""

    def close(self) -> None:
        self._pool.close()


def _public_of(spec: SpecInfo, private_der: bytes) -> bytes:
    """The SPKI of a given PKCS#8 private key, checked (fully, unlike our own keys) to be of ``spec``."""
    key_type = KEY_TYPES[spec.name]
    try:
        private = serialization.load_der_private_key(private_der, password=None)
        public = private.public_key()
        if not key_type.matches(public):
            raise errors.InvalidKeyMaterial(f"The private key is not a {spec.name} key.")
        return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError, AttributeError):
        raise errors.InvalidKeyMaterial(f"Not a PKCS#8 {spec.name} private key this backend can load.") from None
