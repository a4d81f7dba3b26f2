"""The software crypto backend: material generated with the OS CSPRNG and sealed under the root key."""

from __future__ import annotations

import os

from openkms.crypto import symmetric
from openkms.domain import errors
from openkms.domain.keys import KeyVersion
from openkms.domain.ports import Sealer
from openkms.domain.specs import SpecInfo


def material_aad(version_id: str) -> bytes:
    return b"key-version:" + version_id.encode()


class SoftwareBackend:
    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def create_symmetric(self, spec: SpecInfo, version_id: str) -> bytes:
        return self._sealer.seal(os.urandom(spec.material_bytes), material_aad(version_id))

    def _material(self, spec: SpecInfo, version: KeyVersion) -> bytes:
        material = self._sealer.unseal(version.material_ref, material_aad(version.id))
        if spec.cipher is None or len(material) != spec.material_bytes:
            raise errors.IntegrityError("key material")
        return material

    def encrypt(self, spec: SpecInfo, version: KeyVersion, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes, bytes]:
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
