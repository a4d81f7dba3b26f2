"""A backend that connects on first use, and again after a failure: a key store whose token is
unreachable answers ServiceUnavailableTemporary for its own keys while openkms keeps serving
every other store. It also keeps HSM libraries out of processes that never use them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from openkms.domain import errors
from openkms.domain.asymmetric import EncryptAlgorithm, SignAlgorithm
from openkms.domain.importing import ImportToken
from openkms.domain.keys import KeyVersion
from openkms.domain.ports import CryptoBackend
from openkms.domain.specs import SpecInfo

RETRY_SECONDS = 5.0


class LazyBackend:
    def __init__(self, name: str, connect: Callable[[], CryptoBackend], retry_seconds: float = RETRY_SECONDS) -> None:
        self._name = name
        self._connect = connect
        self._retry = retry_seconds
        self._backend: CryptoBackend | None = None
        self._failed_at = float("-inf")
        self._failure = ""
        self._lock = threading.Lock()

    def _get(self) -> CryptoBackend:
        backend = self._backend
        if backend is not None:
            return backend
        with self._lock:
            if self._backend is not None:
                return self._backend
            if time.monotonic() - self._failed_at < self._retry:
                raise errors.BackendUnavailable(self._failure)
            try:
                self._backend = self._connect()
            except errors.UnsupportedProtectionLevel:
                raise
            except errors.KmsError as exc:
                self._failed_at = time.monotonic()
                self._failure = f"The key store {self._name} is unreachable: {exc.message}"
                raise errors.BackendUnavailable(self._failure) from None
            return self._backend

    # --- CryptoBackend: connect if needed, then delegate ----------------------------------------

    def create_symmetric(self, spec: SpecInfo, version_id: str) -> bytes:
        return self._get().create_symmetric(spec, version_id)

    def encrypt(self, spec: SpecInfo, version: KeyVersion, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes, bytes]:
        return self._get().encrypt(spec, version, aad, plaintext)

    def decrypt(
        self, spec: SpecInfo, version: KeyVersion, aad: bytes, salt: bytes, nonce: bytes, sealed: bytes
    ) -> bytes:
        return self._get().decrypt(spec, version, aad, salt, nonce, sealed)

    def random_bytes(self, n: int) -> bytes:
        return self._get().random_bytes(n)

    def create_asymmetric(self, spec: SpecInfo, version_id: str) -> tuple[bytes, bytes]:
        return self._get().create_asymmetric(spec, version_id)

    def sign(self, spec: SpecInfo, version: KeyVersion, algorithm: SignAlgorithm, digest: bytes) -> bytes:
        return self._get().sign(spec, version, algorithm, digest)

    def decrypt_asymmetric(
        self, spec: SpecInfo, version: KeyVersion, algorithm: EncryptAlgorithm, ciphertext: bytes
    ) -> bytes:
        return self._get().decrypt_asymmetric(spec, version, algorithm, ciphertext)

    def create_wrapping_key(self, wrapping_spec: str, wrapping_algorithm: str, token_id: str) -> tuple[bytes, bytes]:
        return self._get().create_wrapping_key(wrapping_spec, wrapping_algorithm, token_id)

    def import_material(
        self, spec: SpecInfo, version_id: str, token: ImportToken, wrapped: bytes
    ) -> tuple[bytes, bytes]:
        return self._get().import_material(spec, version_id, token, wrapped)

    def discard(self, material_ref: bytes) -> None:
        self._get().discard(material_ref)

    def close(self) -> None:
        if self._backend is not None:
            close = getattr(self._backend, "close", None)
            if close is not None:
                close()
            self._backend = None
