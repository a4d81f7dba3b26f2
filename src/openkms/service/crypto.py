"""Symmetric cryptography use cases: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext).

Encrypt takes the caller's text as opaque bytes (Alibaba KMS does not base64-decode it) and
Decrypt returns the same bytes; a data key's ciphertext encrypts the data key's base64 text, so
``Decrypt(CiphertextBlob).Plaintext == GenerateDataKey.Plaintext`` (spec section 3.5).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from openkms.domain import algorithms, asymmetric, ciphertext, context, errors
from openkms.domain.actions import Action, action
from openkms.domain.identity import Caller
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.ports import Clock, PublicKeyCrypto, Store, UnitOfWork
from openkms.domain.specs import KeyUsage
from openkms.service.asymmetric import AsymmetricService
from openkms.service.backends import Backends
from openkms.service.resolve import KeyResolver

MAX_PLAINTEXT_BYTES = 6 * 1024
MIN_DATA_KEY_BYTES, MAX_DATA_KEY_BYTES = 1, 1024
DATA_KEY_SPECS = {"AES_256": 32, "AES_128": 16}

_ENCRYPT, _DECRYPT, _REENCRYPT = action("Encrypt"), action("Decrypt"), action("ReEncrypt")
_SYMMETRIC = {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}  # what policies see for AES and SM4-GCM
_DATA_KEY, _DATA_KEY_NO_PLAINTEXT = action("GenerateDataKey"), action("GenerateDataKeyWithoutPlaintext")
_GENERATE_AND_EXPORT, _EXPORT = action("GenerateAndExportDataKey"), action("ExportDataKey")


@dataclass(frozen=True, slots=True)
class Encrypted:
    key_id: str
    version_id: str
    blob: bytes


@dataclass(frozen=True, slots=True)
class Decrypted:
    key_id: str
    version_id: str
    plaintext: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class DataKey:
    key_id: str
    version_id: str
    blob: bytes
    # The data key as base64 text; empty for GenerateDataKeyWithoutPlaintext.
    plaintext_b64: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class DataKeyPair:
    key_id: str
    version_id: str
    blob: bytes  # the private key sealed under the CMK
    public_key: bytes
    private_key: bytes = field(repr=False)  # empty for ...WithoutPlaintext


KEY_FORMATS = ("PEM", "DER")


@dataclass(frozen=True, slots=True)
class AsymmetricSource:
    """ReEncrypt of an asymmetric ciphertext: which key version and algorithm made it."""

    key_ref: str
    version_id: str
    algorithm: str


def data_key_length(key_spec: str | None, number_of_bytes: int | None) -> int:
    """NumberOfBytes wins over KeySpec; neither gives 32 bytes."""
    if number_of_bytes is not None:
        if not MIN_DATA_KEY_BYTES <= number_of_bytes <= MAX_DATA_KEY_BYTES:
            raise errors.InvalidParameter("NumberOfBytes", "From 1 to 1024.")
        return number_of_bytes
    if key_spec is not None:
        if key_spec not in DATA_KEY_SPECS:
            raise errors.InvalidParameter("KeySpec", "Valid values: AES_256, AES_128.")
        return DATA_KEY_SPECS[key_spec]
    return 32


class CryptoService:
    def __init__(
        self,
        store: Store,
        resolver: KeyResolver,
        backends: Backends,
        public: PublicKeyCrypto,
        asym: AsymmetricService,
        clock: Clock,
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._backends = backends
        self._public = public
        self._asymmetric = asym
        self._clock = clock

    # --- helpers ------------------------------------------------------------------------------

    def _encryption_key(self, uow: UnitOfWork, caller: Caller, ref: str, act: Action) -> tuple[Key, KeyVersion]:
        key = self._resolver.key(uow, caller, ref, act, int(self._clock.now()), _SYMMETRIC)
        _require_symmetric_encrypt(key)
        version = uow.versions.get(key.primary_version_id or "")
        if version is None:  # an Enabled key always has a primary version; guard against a torn store
            raise errors.KeyVersionNotFound()
        return key, version

    def _seal(
        self, key: Key, version: KeyVersion, plaintext: bytes, ctx: Mapping[str, str] | None, aad: bytes | None = None
    ) -> bytes:
        """A new blob (format 2) bound to the context, or to the instance gateway's ``aad``."""
        fmt = ciphertext.FORMAT_V2
        bound = ciphertext.associated_data(version.id, context.binding(fmt, ctx, aad), fmt)
        sealed = self._backends.for_key(key).encrypt(key.spec_info, version, bound, plaintext)
        return ciphertext.pack_message(version.id, sealed, fmt)

    def _open(
        self, caller: Caller, blob: bytes, ctx: Mapping[str, str] | None, act: Action, aad: bytes | None = None
    ) -> tuple[Key, KeyVersion, bytes]:
        env = ciphertext.unpack(blob)
        with self._store.read() as uow:
            version = uow.versions.get(env.version_id)
            if version is None:
                raise errors.KeyNotFound()
            key = self._resolver.key(uow, caller, version.key_id, act, int(self._clock.now()), _SYMMETRIC)
        _require_symmetric_encrypt(key)
        bound = ciphertext.associated_data(version.id, context.binding(env.format, ctx, aad), env.format)
        plaintext = self._backends.for_key(key).decrypt(key.spec_info, version, bound, *env.message)
        return key, version, plaintext

    # --- use cases ----------------------------------------------------------------------------

    def encrypt(
        self,
        caller: Caller,
        ref: str,
        plaintext: bytes,
        ctx: Mapping[str, str],
        dry_run: bool = False,
        aad: bytes | None = None,
    ) -> Encrypted:
        """``aad``: the instance gateway's associated data, bound instead of the context."""  # fmt: skip
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            raise errors.InvalidParameter("Plaintext", f"At most {MAX_PLAINTEXT_BYTES} bytes (6 KB).")
        with self._store.read() as uow:
            key, version = self._encryption_key(uow, caller, ref, _ENCRYPT)
        if dry_run:
            raise errors.DryRunSucceeded()
        return Encrypted(key.id, version.id, self._seal(key, version, plaintext, ctx, aad))

    def decrypt(
        self, caller: Caller, blob: bytes, ctx: Mapping[str, str], dry_run: bool = False, aad: bytes | None = None
    ) -> Decrypted:
        key, version, plaintext = self._open(caller, blob, ctx, _DECRYPT, aad)
        if dry_run:
            raise errors.DryRunSucceeded()
        return Decrypted(key.id, version.id, plaintext)

    def reencrypt(
        self,
        caller: Caller,
        blob: bytes,
        destination_ref: str,
        source_ctx: Mapping[str, str],
        destination_ctx: Mapping[str, str],
        dry_run: bool = False,
        source: AsymmetricSource | None = None,
    ) -> Encrypted:
        """Decrypt (a symmetric blob, or an asymmetric ciphertext when ``source`` names its key)
        and encrypt the same bytes under the destination key."""
        if source is None:
            _, _, plaintext = self._open(caller, blob, source_ctx, _REENCRYPT)
        else:
            plaintext = self._asymmetric.decrypt(
                caller, source.key_ref, source.version_id, source.algorithm, blob, as_action=_REENCRYPT
            ).value
        with self._store.read() as uow:
            key, version = self._encryption_key(uow, caller, destination_ref, _REENCRYPT)
        if dry_run:
            raise errors.DryRunSucceeded()
        return Encrypted(key.id, version.id, self._seal(key, version, plaintext, destination_ctx))

    def _export(self, data_key: bytes, public_key_blob: bytes, wrapping_spec: str, wrapping_algorithm: str) -> bytes:
        alg = asymmetric.wrapping_algorithm(wrapping_spec, wrapping_algorithm)
        limit = algorithms.max_plaintext(wrapping_spec, alg)
        if len(data_key) > limit:
            raise errors.InvalidParameter("NumberOfBytes", f"{wrapping_spec} with {alg} wraps at most {limit} bytes.")
        der = self._public.parse_public_key(wrapping_spec, public_key_blob, "PublicKeyBlob")
        return self._public.encrypt(wrapping_spec, der, alg, data_key)

    def generate_and_export_data_key(
        self,
        caller: Caller,
        ref: str,
        length: int,
        ctx: Mapping[str, str],
        public_key_blob: bytes,
        wrapping_spec: str,
        wrapping_algorithm: str,
        dry_run: bool = False,
    ) -> tuple[DataKey, bytes]:
        """A new data key, under the CMK and under the caller's public key (raw key bytes)."""
        asymmetric.wrapping_algorithm(wrapping_spec, wrapping_algorithm)
        self._public.parse_public_key(wrapping_spec, public_key_blob, "PublicKeyBlob")
        made = self._generate(caller, ref, length, ctx, True, dry_run, _GENERATE_AND_EXPORT)
        raw = base64.b64decode(made.plaintext_b64)
        exported = self._export(raw, public_key_blob, wrapping_spec, wrapping_algorithm)
        return DataKey(made.key_id, made.version_id, made.blob, ""), exported

    def export_data_key(
        self,
        caller: Caller,
        blob: bytes,
        ctx: Mapping[str, str],
        public_key_blob: bytes,
        wrapping_spec: str,
        wrapping_algorithm: str,
        dry_run: bool = False,
    ) -> tuple[str, str, bytes]:
        """Re-wrap a data key made by GenerateDataKey* under the caller's public key."""
        key, version, inner = self._open(caller, blob, ctx, _EXPORT)
        try:
            raw = base64.b64decode(inner, validate=True)
        except ValueError:
            raise errors.InvalidParameter("CiphertextBlob", "The blob does not hold a data key.") from None
        exported = self._export(raw, public_key_blob, wrapping_spec, wrapping_algorithm)
        if dry_run:
            raise errors.DryRunSucceeded()
        return key.id, version.id, exported

    def generate_data_key(
        self,
        caller: Caller,
        ref: str,
        length: int,
        ctx: Mapping[str, str],
        with_plaintext: bool = True,
        dry_run: bool = False,
        aad: bytes | None = None,
        sealed_raw: bool = False,
    ) -> DataKey:
        """``sealed_raw``: the blob holds the data key's bytes (the instance gateway's data keys),
        not its base64 text (the RPC API's, whose Decrypt answers the text)."""
        act = _DATA_KEY if with_plaintext else _DATA_KEY_NO_PLAINTEXT
        return self._generate(caller, ref, length, ctx, with_plaintext, dry_run, act, sealed_raw, aad)

    def _generate(
        self,
        caller: Caller,
        ref: str,
        length: int,
        ctx: Mapping[str, str],
        with_plaintext: bool,
        dry_run: bool,
        act: Action,
        sealed_raw: bool = False,
        aad: bytes | None = None,
    ) -> DataKey:
        with self._store.read() as uow:
            key, version = self._encryption_key(uow, caller, ref, act)
        if dry_run:
            raise errors.DryRunSucceeded()
        backend = self._backends.for_key(key)
        raw = backend.random_bytes(length)
        data_key_b64 = base64.b64encode(raw).decode("ascii")
        blob = self._seal(key, version, raw if sealed_raw else data_key_b64.encode("ascii"), ctx, aad)
        return DataKey(key.id, version.id, blob, data_key_b64 if with_plaintext else "")

    def generate_data_key_pair(
        self, caller: Caller, ref: str, spec: str, key_format: str, aad: bytes, with_plaintext: bool
    ) -> DataKeyPair:
        """The instance gateway's GenerateDataKeyPair[WithoutPlaintext]: a key pair made here and
        its private key sealed under the CMK (authorized as GenerateDataKey[WithoutPlaintext])."""
        if key_format not in KEY_FORMATS:
            raise errors.InvalidParameter("KeyFormat", "KeyFormat is PEM or DER.")
        act = _DATA_KEY if with_plaintext else _DATA_KEY_NO_PLAINTEXT
        with self._store.read() as uow:
            key, version = self._encryption_key(uow, caller, ref, act)
        private, public = self._public.generate_pair(spec, key_format == "PEM")
        blob = self._seal(key, version, private, None, aad)
        return DataKeyPair(key.id, version.id, blob, public, private if with_plaintext else b"")


def _require_symmetric_encrypt(key: Key) -> None:
    if not key.spec_info.symmetric or key.usage is not KeyUsage.ENCRYPT_DECRYPT:
        raise errors.UnsupportedOperation(
            f"This operation needs a symmetric ENCRYPT/DECRYPT key; {key.id} is {key.spec}."
        )
