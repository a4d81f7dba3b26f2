"""Asymmetric key use cases: sign, verify, encrypt, decrypt, public keys.

Every call names a key version (asymmetric keys have no primary version to fall back on).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openkms.domain import asymmetric, errors
from openkms.domain.actions import Action, action
from openkms.domain.identity import Caller
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.ports import Clock, PublicKeyCrypto, Store
from openkms.service.backends import Backends
from openkms.service.resolve import KeyResolver

_SIGN, _VERIFY = action("AsymmetricSign"), action("AsymmetricVerify")
_ENCRYPT, _DECRYPT, _PUBLIC_KEY = action("AsymmetricEncrypt"), action("AsymmetricDecrypt"), action("GetPublicKey")


@dataclass(frozen=True, slots=True)
class AsymmetricResult:
    key_id: str
    version_id: str
    value: bytes = field(repr=False)  # a signature, a ciphertext, or a decrypted plaintext


class AsymmetricService:
    def __init__(
        self, store: Store, resolver: KeyResolver, backends: Backends, public: PublicKeyCrypto, clock: Clock
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._backends = backends
        self._public = public
        self._clock = clock

    def _version(
        self, caller: Caller, ref: str, version_id: str, act: Action, algorithm: str = ""
    ) -> tuple[Key, KeyVersion]:
        conditions = {"kms:EncryptionAlgorithm": algorithm} if algorithm else None
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, act, int(self._clock.now()), conditions)
            # No version (the instance gateway names none): the key's primary one.
            version = uow.versions.get(version_id or key.primary_version_id or "")
        if version is None or version.key_id != key.id:
            raise errors.KeyVersionNotFound()
        if key.spec_info.symmetric or version.public_key is None:
            raise errors.UnsupportedOperation("This operation needs an asymmetric key.")
        return key, version

    def sign(
        self, caller: Caller, ref: str, version_id: str, algorithm: str, digest: bytes, dry_run: bool = False
    ) -> AsymmetricResult:
        key, version = self._version(caller, ref, version_id, _SIGN, algorithm)
        alg = asymmetric.sign_algorithm(key.spec_info, key.usage, algorithm)
        asymmetric.check_digest(alg, digest)
        if dry_run:
            raise errors.DryRunSucceeded()
        signature = self._backends.for_key(key).sign(key.spec_info, version, alg, digest)
        return AsymmetricResult(key.id, version.id, signature)

    def verify(
        self,
        caller: Caller,
        ref: str,
        version_id: str,
        algorithm: str,
        digest: bytes,
        signature: bytes,
        dry_run: bool = False,
    ) -> tuple[str, str, bool]:
        key, version = self._version(caller, ref, version_id, _VERIFY, algorithm)
        alg = asymmetric.sign_algorithm(key.spec_info, key.usage, algorithm)
        asymmetric.check_digest(alg, digest)
        if dry_run:
            raise errors.DryRunSucceeded()
        assert version.public_key is not None
        valid = self._public.verify(key.spec, version.public_key, alg, digest, signature)
        return key.id, version.id, valid

    def encrypt(
        self, caller: Caller, ref: str, version_id: str, algorithm: str, plaintext: bytes, dry_run: bool = False
    ) -> AsymmetricResult:
        key, version = self._version(caller, ref, version_id, _ENCRYPT, algorithm)
        alg = asymmetric.encrypt_algorithm(key.spec_info, key.usage, algorithm)
        asymmetric.check_plaintext(key.spec, alg, plaintext)
        if dry_run:
            raise errors.DryRunSucceeded()
        assert version.public_key is not None
        return AsymmetricResult(key.id, version.id, self._public.encrypt(key.spec, version.public_key, alg, plaintext))

    def decrypt(
        self,
        caller: Caller,
        ref: str,
        version_id: str,
        algorithm: str,
        ciphertext: bytes,
        dry_run: bool = False,
        as_action: Action = _DECRYPT,  # ReEncrypt decrypts its source as itself
    ) -> AsymmetricResult:
        key, version = self._version(caller, ref, version_id, as_action, algorithm)
        alg = asymmetric.encrypt_algorithm(key.spec_info, key.usage, algorithm)
        plaintext = self._backends.for_key(key).decrypt_asymmetric(key.spec_info, version, alg, ciphertext)
        if dry_run:
            raise errors.DryRunSucceeded()
        return AsymmetricResult(key.id, version.id, plaintext)

    def public_key_pem(self, caller: Caller, ref: str, version_id: str, dry_run: bool = False) -> tuple[str, str, str]:
        key, version = self._version(caller, ref, version_id, _PUBLIC_KEY)
        if dry_run:
            raise errors.DryRunSucceeded()
        assert version.public_key is not None
        return key.id, version.id, self._public.to_pem(version.public_key)
