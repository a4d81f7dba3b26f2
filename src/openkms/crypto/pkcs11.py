"""The HSM crypto backend: every key version lives in a PKCS#11 token and every operation runs there.

The database keeps only a reference, ``b"pkcs11:v1:" + CKA_ID``; the objects are token objects,
private, sensitive and never extractable, labelled and identified by the key version id
(``pkcs11_keys.py``).

Symmetric keys (Aliyun_AES_128/192/256) keep the software backend's blob layout (salt 16, nonce
12, ciphertext and tag) and its per-message keys. The version key is a derive-only AES key; each
message is encrypted under its own session key, derived inside the token::

    message key = AES-ECB(version key, SHA-256("openkms/hsm/v1/message-key" || salt))[:key length]

(CKM_AES_ECB_ENCRYPT_DATA: the version key as a PRF on two distinct blocks, a counter-mode
PRF-based KDF in the spirit of NIST SP 800-108), then CKM_AES_GCM with the nonce and the
associated data. The message key is a sensitive, non-extractable session object destroyed right
after use. As with the software backend, GCM's 2^32 random-nonce limit never applies to a hot key.
It costs about 0.2 ms of CPU per message on SoftHSM2 (derive, encrypt, destroy), against 0.03 ms
for GCM under the version key directly.

Asymmetric keys: RSA_2048/3072 (PSS with SHA-256, MGF1-SHA-256, salt 32 over the caller's digest;
PKCS#1 v1.5 with the SHA-256 DigestInfo; OAEP decryption), EC_P256 and EC_P256K (CKM_ECDSA on the
digest, the raw r||s re-encoded as DER). SoftHSM2 has no SM2/SM4 mechanisms and implements OAEP
with SHA-1 only: those specs are refused at creation, RSAES_OAEP_SHA_256 at the operation. Nothing
falls back to software.

Import (Origin=EXTERNAL): the wrapping key pair is generated in the token, and the material is
unwrapped there (C_UnwrapKey) straight into a derive-only version key. See ``import_material`` for
the length check and the fingerprint, both computed inside the token.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from openkms.crypto import pkcs11_keys as keys
from openkms.crypto.algorithms import AEADS, CIPHERS, KEY_TYPES, SIGNATURES, TokenKeyPair, TokenMechanism
from openkms.crypto.pkcs11_keys import p11
from openkms.crypto.pkcs11_session import PooledSession, TokenConfig, open_token, release
from openkms.domain import errors
from openkms.domain.algorithms import (
    WRAPPING_KEY_SPECS,
    Capabilities,
    EncryptAlgorithm,
    Purpose,
    SignAlgorithm,
    algorithms_for,
    named,
    wrapping_spec,
)
from openkms.domain.ciphertext import NONCE_LEN, SALT_LEN, TAG_LEN, SealedMessage
from openkms.domain.importing import ImportToken
from openkms.domain.keys import KeyVersion
from openkms.domain.ports import HeldObject
from openkms.domain.specs import SPECS, KeyUsage, SpecInfo

log = logging.getLogger("openkms.crypto.pkcs11")

T = TypeVar("T")
IMPORT_FAILED = "The material does not unwrap in the token to key material of this KeySpec."
# Lost objects already logged by this backend (bounded: a token emptied by mistake must not grow
# memory without end; past the bound each further one is logged once more).
_REPORTED_LIMIT = 10_000
_OAEP_SHA1_ONLY = "SoftHSM2 implements OAEP with SHA-1 only"
# Mechanisms SoftHSM2 (openkms's own token) lacks in part: refused up front for import wrapping
# keys; decryption asks the token, which refuses.
_TOKEN_GAPS = {"RSAES_OAEP_SHA_256": _OAEP_SHA1_ONLY}


def _aead_key_type(spec: SpecInfo) -> str:
    """The token key type of a symmetric spec's version keys; UnsupportedKeySpec when it has none."""
    key_type = AEADS[spec.cipher].token_key_type if spec.cipher is not None else None
    if key_type is None:
        raise keys.unsupported_spec(spec.name)
    return key_type


def _key_pair(spec_name: str) -> TokenKeyPair:
    """How the token generates key pairs of a spec; UnsupportedKeySpec when it cannot."""
    key_type = KEY_TYPES.get(spec_name)
    if key_type is None or key_type.token is None:
        raise keys.unsupported_spec(spec_name)
    return key_type.token


def _in_token(spec: SpecInfo) -> bool:
    if spec.symmetric:
        return spec.cipher is not None and AEADS[spec.cipher].token_key_type is not None
    key_type = KEY_TYPES.get(spec.name)
    return key_type is not None and key_type.token is not None


def _cannot_unwrap(algorithm: str) -> str:
    usable = [a for a in algorithms_for(wrapping_spec(algorithm), Purpose.IMPORT) if a not in _TOKEN_GAPS]
    return (
        f"The PKCS#11 token cannot unwrap {algorithm} ({_OAEP_SHA1_ONLY}); ask for import parameters with "
        f"{' or '.join(usable)}."
    )


def _capabilities() -> Capabilities:
    """What a token cannot do: the catalogue's rows without a token part, and SoftHSM2's gaps."""
    in_token = [name for name in WRAPPING_KEY_SPECS if _in_token(SPECS[name])]
    return Capabilities(
        specs={name: keys.unsupported_spec(name).message for name, spec in SPECS.items() if not _in_token(spec)},
        wrapping_specs={
            name: f"WrappingKeySpec {name} is not available for HSM keys: the PKCS#11 token has no "
            f"{SPECS[name].family} mechanisms. Use {' or '.join(in_token)}."
            for name in WRAPPING_KEY_SPECS
            if name not in in_token
        },
        wrapping_algorithms={
            **{
                a: f"The PKCS#11 token has no mechanism to unwrap {a}."
                for a in named(Purpose.IMPORT)
                if not CIPHERS[a].token
            },
            **{a: _cannot_unwrap(a) for a in _TOKEN_GAPS},
        },
    )


CAPABILITIES = _capabilities()


def _mechanism(row: TokenMechanism | None, spec: SpecInfo) -> TokenMechanism:
    if row is None:  # an algorithm of a spec the token cannot keep
        raise keys.unsupported_spec(spec.name)
    return row


def _unwrapping(algorithm: str) -> TokenMechanism:
    cipher = CIPHERS.get(algorithm)
    if cipher is None or cipher.token is None:
        raise errors.UnsupportedOperation(f"The PKCS#11 token cannot decrypt or unwrap {algorithm}.")
    return cipher.token


class Pkcs11Backend:
    """Implements ``CryptoBackend`` on a PKCS#11 token. Thread-safe; one per key store."""

    def __init__(self, config: TokenConfig, max_sessions: int = 32, store_id: str = "") -> None:
        self._tokens = open_token(config, max_sessions)
        self._closed = False
        self._store = store_id or "default"  # the key store this token serves, for messages and logs
        self._reported: set[bytes] = set()
        self._reported_lock = threading.Lock()

    @property
    def token_label(self) -> str:
        return self._tokens.label

    def capabilities(self) -> Capabilities:
        return CAPABILITIES

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release(self._tokens)

    def _call(self, what: str, run: Callable[[PooledSession], T], subject: str, oid: bytes) -> T:
        """Run ``run`` in the token; a lost object (destroyed outside openkms) is reported as
        ``subject``'s in this key store: 503 for the caller, one log line per object."""
        try:
            return self._tokens.call(what, run)
        except errors.KeyObjectMissing:
            with self._reported_lock:
                first = oid not in self._reported
                if first:
                    if len(self._reported) >= _REPORTED_LIMIT:
                        self._reported.clear()
                    self._reported.add(oid)
            if first:
                log.warning(
                    "key store %s: the token object %s of %s is missing from token %r (removed outside "
                    "openkms); its requests answer ServiceUnavailableTemporary until it is restored",
                    self._store,
                    oid.decode("ascii", "replace"),
                    subject,
                    self._tokens.label,
                )
            raise errors.KeyObjectMissing(subject, self._store) from None

    # --- symmetric --------------------------------------------------------------------------------

    def create_symmetric(self, spec: SpecInfo, version_id: str) -> bytes:
        key_type = _aead_key_type(spec)
        p = p11()
        oid = keys.version_object_id(version_id)
        template = keys.stored_template(oid, secret=True, DERIVE=True)

        def generate(s: PooledSession) -> None:
            s.session.generate_key(
                p.KeyType[key_type],
                spec.material_bytes * 8,
                capabilities=p.MechanismFlag(0),
                store=True,
                template=template,
            )

        self._tokens.call("generate a key", generate)
        return keys.reference(oid)

    def encrypt(self, spec: SpecInfo, version: KeyVersion, aad: bytes, plaintext: bytes) -> SealedMessage:
        _aead_key_type(spec)
        p = p11()
        oid = keys.object_id(version.material_ref)
        salt, nonce = os.urandom(SALT_LEN), os.urandom(NONCE_LEN)

        def run(s: PooledSession) -> bytes:
            version_key = s.find(oid, p.ObjectClass.SECRET_KEY)
            return keys.message_gcm(version_key, spec, salt, nonce, aad, plaintext, seal=True)

        return SealedMessage(salt, nonce, self._call("encrypt", run, f"key version {version.id}", oid))

    def decrypt(
        self, spec: SpecInfo, version: KeyVersion, aad: bytes, salt: bytes, nonce: bytes, sealed: bytes
    ) -> bytes:
        _aead_key_type(spec)
        if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN or len(sealed) < TAG_LEN:
            raise errors.InvalidCiphertext()
        p = p11()
        oid = keys.object_id(version.material_ref)

        def run(s: PooledSession) -> bytes:
            version_key = s.find(oid, p.ObjectClass.SECRET_KEY)
            try:
                return keys.message_gcm(version_key, spec, salt, nonce, aad, sealed, seal=False)
            except (p.GeneralError, p.EncryptedDataInvalid, p.EncryptedDataLenRange, p.DataLenRange):
                # SoftHSM2 answers CKR_GENERAL_ERROR to a GCM tag that does not verify.
                raise errors.InvalidCiphertext() from None

        return self._call("decrypt", run, f"key version {version.id}", oid)

    def probe(self) -> None:
        self.random_bytes(1)  # C_GenerateRandom: a session on the token, and an answer from it

    def random_bytes(self, n: int) -> bytes:
        if n <= 0:
            return b""

        def run(s: PooledSession) -> bytes:
            data: bytes = s.session.generate_random(n * 8)
            return data

        return self._tokens.call("generate random bytes", run)

    # --- asymmetric -------------------------------------------------------------------------------

    def _generate_pair(self, spec_name: str, oid: bytes, **granted: bool) -> bytes:
        """A key pair in the token; returns the public key's SubjectPublicKeyInfo (DER)."""
        p = p11()
        pair = _key_pair(spec_name)
        private = keys.stored_template(oid, secret=False, **granted)
        public = keys.public_template(oid, VERIFY=True, **pair.public)
        mechanism = p.Mechanism[pair.mechanism] if pair.mechanism else None

        def generate(s: PooledSession) -> bytes:
            public_key, _ = s.session.generate_keypair(
                p.KeyType[pair.key_type],
                pair.bits,
                mechanism=mechanism,
                capabilities=p.MechanismFlag(0),
                store=True,
                public_template=public,
                private_template=private,
            )
            return keys.public_key_spki(spec_name, public_key)

        return self._tokens.call("generate a key pair", generate)

    def create_asymmetric(self, spec: SpecInfo, version_id: str) -> tuple[bytes, bytes]:
        _key_pair(spec.name)
        oid = keys.version_object_id(version_id)
        decrypts = KeyUsage.ENCRYPT_DECRYPT in spec.usages
        return keys.reference(oid), self._generate_pair(spec.name, oid, SIGN=True, DECRYPT=decrypts)

    def sign(self, spec: SpecInfo, version: KeyVersion, algorithm: SignAlgorithm, digest: bytes) -> bytes:
        row = _mechanism(SIGNATURES[algorithm].token, spec)
        mechanism, param = keys.mechanism(row)
        data = row.prefix + digest
        p = p11()
        oid = keys.object_id(version.material_ref)

        def run(s: PooledSession) -> bytes:
            signature: bytes = s.find(oid, p.ObjectClass.PRIVATE_KEY).sign(
                data, mechanism=mechanism, mechanism_param=param
            )
            return signature

        signature = self._call("sign", run, f"key version {version.id}", oid)
        return keys.ecdsa_der(signature) if row.raw_signature else signature

    def decrypt_asymmetric(
        self, spec: SpecInfo, version: KeyVersion, algorithm: EncryptAlgorithm, ciphertext: bytes
    ) -> bytes:
        mechanism, param = keys.mechanism(_mechanism(CIPHERS[algorithm].token, spec))
        p = p11()
        oid = keys.object_id(version.material_ref)

        def run(s: PooledSession) -> bytes:
            key = s.find(oid, p.ObjectClass.PRIVATE_KEY)
            try:
                plaintext: bytes = key.decrypt(ciphertext, mechanism=mechanism, mechanism_param=param)
                return plaintext
            except (p.ArgumentsBad, p.MechanismParamInvalid, p.MechanismInvalid):
                raise errors.UnsupportedOperation(
                    f"The PKCS#11 token does not implement {algorithm} ({_OAEP_SHA1_ONLY}); use RSAES_OAEP_SHA_1."
                ) from None
            except (p.GeneralError, p.EncryptedDataInvalid, p.EncryptedDataLenRange, p.DataLenRange, p.DataInvalid):
                raise errors.InvalidParameter(
                    "CiphertextBlob", "The ciphertext does not decrypt with this key."
                ) from None

        return self._call("decrypt", run, f"key version {version.id}", oid)

    # --- import ---------------------------------------------------------------------------------

    def create_wrapping_key(self, wrapping_spec: str, wrapping_algorithm: str, token_id: str) -> tuple[bytes, bytes]:
        refusal = CAPABILITIES.wrapping_specs.get(wrapping_spec)
        if refusal is not None:
            raise errors.UnsupportedKeySpec(refusal)
        refusal = CAPABILITIES.wrapping_algorithms.get(wrapping_algorithm)
        if refusal is not None:
            raise errors.UnsupportedOperation(refusal)
        oid = keys.wrapping_object_id(token_id)
        return keys.reference(oid), self._generate_pair(wrapping_spec, oid, UNWRAP=True)

    def import_material(
        self, spec: SpecInfo, version_id: str, token: ImportToken, wrapped: bytes
    ) -> tuple[bytes, bytes]:
        """Unwrap in the token, in three steps, all inside it:

        1. Unwrap into a session object that may be wrapped but never read (sensitive), and wrap
           it under a throw-away session AES key with CKM_AES_KEY_WRAP: the length of that output
           tells the material's length, which SoftHSM2 leaves out of CKA_VALUE_LEN (it accepts
           any length for an unwrapped AES key). Both objects are destroyed at once.
        2. Unwrap again, into the version's token object: derive-only, never extractable.
        3. The fingerprint: the key check value of ``pkcs11_keys.fingerprint``. Its derivation
           also fails for an AES key of a length other than 16, 24 or 32 bytes.

        Every failure answers the same InvalidKeyMaterial, so the answer does not tell a padding
        error from a length error. Material the token cannot unwrap (OAEP with SHA-256 on
        SoftHSM2, SM2) gets a clear error; nothing is unwrapped in software.
        """
        key_type = _aead_key_type(spec)
        row = _unwrapping(token.wrapping_algorithm)
        p = p11()
        wrapping_oid = keys.object_id(token.sealed_private_key)
        oid = keys.version_object_id(version_id, imported=os.urandom(8).hex())

        def run(s: PooledSession) -> bytes:
            wrapping_key = s.find(wrapping_oid, p.ObjectClass.PRIVATE_KEY)

            def unwrap(template: dict[Any, Any]) -> Any:
                try:
                    return keys.unwrap_secret(wrapping_key, wrapped, key_type, row, template)
                except keys.UnwrapUnsupported:
                    raise errors.UnsupportedOperation(_cannot_unwrap(token.wrapping_algorithm)) from None

            try:
                if keys.secret_length(s.session, unwrap(keys.probe_template())) != spec.material_bytes:
                    raise errors.InvalidKeyMaterial(IMPORT_FAILED)
                return keys.fingerprint_or_destroy(unwrap(keys.stored_template(oid, secret=True, DERIVE=True)))
            except keys.infrastructure_errors():
                raise
            except p.PKCS11Error:
                raise errors.InvalidKeyMaterial(IMPORT_FAILED) from None

        fingerprint = self._call("import key material", run, f"import token {token.id}'s wrapping key", wrapping_oid)
        return keys.reference(oid), fingerprint

    # --- housekeeping -----------------------------------------------------------------------------

    def discard(self, material_ref: bytes) -> None:
        if material_ref:
            self.destroy(material_ref)

    def list_objects(self) -> list[HeldObject]:
        """The token objects named like openkms's key versions and wrapping keys (``ObjectInventory``),
        one per CKA_ID: a key pair's halves share it. Reads CKA_ID alone, and reports it as the
        label (openkms sets both alike; the ID has been checked to be one of its names, so no
        text of someone else's reaches a log line)."""
        p = p11()
        a = p.Attribute

        def run(s: PooledSession) -> list[HeldObject]:
            found: set[bytes] = set()
            for object_class in (p.ObjectClass.SECRET_KEY, p.ObjectClass.PRIVATE_KEY, p.ObjectClass.PUBLIC_KEY):
                for obj in s.session.get_objects({a.CLASS: object_class, a.TOKEN: True}):
                    oid = bytes(obj[a.ID])
                    if keys.is_key_object_id(oid):
                        found.add(oid)
            return [HeldObject(keys.reference(oid), oid.decode("ascii")) for oid in sorted(found)]

        return self._tokens.call("list objects", run)

    def destroy(self, ref: bytes) -> int:
        """Destroy the token objects a reference names (deleted material, expired wrapping keys).
        Returns how many objects were destroyed."""
        oid = keys.object_id(ref)
        p = p11()

        def run(s: PooledSession) -> int:
            found = list(s.session.get_objects({p.Attribute.ID: oid}))
            for obj in found:
                obj.destroy()
            s.forget()
            return len(found)

        return self._tokens.call("destroy a key", run)
