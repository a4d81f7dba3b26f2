"""The HSM crypto backend: every key version lives in a PKCS#11 token and every operation runs there.

The database keeps only a reference, ``b"pkcs11:v1:" + CKA_ID``; the objects are token objects,
private, sensitive and never extractable, labelled and identified by the key version id.

Symmetric keys (Aliyun_AES_128/192/256) keep the software backend's blob layout (salt 16, nonce
12, ciphertext and tag) and its per-message keys. The version key is a derive-only AES key; each
message is encrypted under its own session key, derived inside the token::

    message key = AES-ECB(version key, SHA-256("openkms/hsm/v1/message-key" || salt))[:key length]

(CKM_AES_ECB_ENCRYPT_DATA: the version key as a PRF on two distinct blocks, a counter-mode
PRF-based KDF in the spirit of NIST SP 800-108), then CKM_AES_GCM with the nonce and the
associated data. The message key is a sensitive, non-extractable session object destroyed right
after use. As with the software backend, GCM's 2^32 random-nonce limit never applies to a hot key.
Costs about 0.2 ms of CPU per message on SoftHSM2 (derive, encrypt, destroy), against 0.03 ms for
GCM under the version key directly.

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

import hashlib
import os
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from openkms.crypto import asymmetric
from openkms.crypto.pkcs11_session import PooledSession, TokenConfig, open_token, release
from openkms.domain import errors
from openkms.domain.asymmetric import EncryptAlgorithm, SignAlgorithm
from openkms.domain.ciphertext import NONCE_LEN, SALT_LEN
from openkms.domain.importing import ImportToken
from openkms.domain.keys import KeyVersion
from openkms.domain.specs import Cipher, SpecInfo

REF_PREFIX = b"pkcs11:v1:"
_ID_PREFIX = "openkms:"
_MESSAGE_KEY_DOMAIN = b"openkms/hsm/v1/message-key"
_FINGERPRINT_KEY_INPUT = hashlib.sha256(b"openkms/hsm/v1/material-fingerprint-key").digest()
_FINGERPRINT_BLOCKS = hashlib.sha256(b"openkms/hsm/v1/material-fingerprint").digest()
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072}
_CURVES: dict[str, tuple[bytes, ec.EllipticCurve]] = {
    "EC_P256": (bytes.fromhex("06082a8648ce3d030107"), ec.SECP256R1()),  # 1.2.840.10045.3.1.7
    "EC_P256K": (bytes.fromhex("06052b8104000a"), ec.SECP256K1()),  # 1.3.132.0.10
}
_IMPORT_FAILED = "The material does not unwrap in the token to key material of this KeySpec."


def _p11() -> Any:
    import pkcs11

    return pkcs11


def message_key_input(salt: bytes) -> bytes:
    """The two AES blocks the version key encrypts to make a message's key (public: from the salt)."""
    return hashlib.sha256(_MESSAGE_KEY_DOMAIN + salt).digest()


def object_id(ref: bytes) -> bytes:
    """The CKA_ID a stored reference names; IntegrityError if it is not a PKCS#11 reference."""
    if not ref.startswith(REF_PREFIX) or not (len(REF_PREFIX) < len(ref) <= len(REF_PREFIX) + 128):
        raise errors.IntegrityError("HSM key reference")
    return ref[len(REF_PREFIX) :]


def _unsupported_spec(spec_name: str) -> errors.UnsupportedKeySpec:
    return errors.UnsupportedKeySpec(
        f"KeySpec {spec_name} is not available with ProtectionLevel HSM: the PKCS#11 token has no "
        "SM2/SM4 mechanisms. Use ProtectionLevel SOFTWARE for this KeySpec."
    )


class Pkcs11Backend:
    """Implements ``CryptoBackend`` on a PKCS#11 token. Thread-safe; one per key store."""

    def __init__(self, config: TokenConfig, max_sessions: int = 32) -> None:
        self._tokens = open_token(config, max_sessions)
        self._closed = False

    @property
    def token_label(self) -> str:
        return self._tokens.label

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            release(self._tokens)

    # --- templates --------------------------------------------------------------------------------

    @staticmethod
    def _stored(object_id: bytes, secret: bool) -> dict[Any, Any]:
        """Attributes every stored private or secret key gets: a private, sensitive token object
        that never leaves the token, named by the version id, able to do nothing not granted."""
        a = _p11().Attribute
        template = {
            a.TOKEN: True,
            a.PRIVATE: True,
            a.SENSITIVE: True,
            a.EXTRACTABLE: False,
            a.ID: object_id,
            a.LABEL: object_id.decode("ascii"),
            a.DECRYPT: False,
            a.SIGN: False,
            a.UNWRAP: False,
            a.DERIVE: False,
        }
        if secret:
            template.update({a.ENCRYPT: False, a.WRAP: False, a.VERIFY: False})
        return template

    @staticmethod
    def _public(object_id: bytes) -> dict[Any, Any]:
        a = _p11().Attribute
        return {a.TOKEN: True, a.PRIVATE: False, a.ID: object_id, a.LABEL: object_id.decode("ascii")}

    # --- symmetric --------------------------------------------------------------------------------

    def create_symmetric(self, spec: SpecInfo, version_id: str) -> bytes:
        if spec.cipher is not Cipher.AES_GCM:
            raise _unsupported_spec(spec.name)
        p = _p11()
        oid = (_ID_PREFIX + version_id).encode("ascii")
        template = {**self._stored(oid, secret=True), p.Attribute.DERIVE: True}

        def generate(s: PooledSession) -> None:
            s.session.generate_key(
                p.KeyType.AES, spec.material_bytes * 8, capabilities=p.MechanismFlag(0), store=True, template=template
            )

        self._tokens.call("generate a key", generate)
        return REF_PREFIX + oid

    def _message_key(self, s: PooledSession, ref: bytes, spec: SpecInfo, salt: bytes, usage: Any) -> Any:
        p = _p11()
        version_key = s.find(object_id(ref), p.ObjectClass.SECRET_KEY)
        a = p.Attribute
        template = {
            a.TOKEN: False,
            a.PRIVATE: True,
            a.SENSITIVE: True,
            a.EXTRACTABLE: False,
            usage: True,
        }
        return version_key.derive_key(
            p.KeyType.AES,
            spec.material_bytes * 8,
            capabilities=p.MechanismFlag(0),
            mechanism=p.Mechanism.AES_ECB_ENCRYPT_DATA,
            mechanism_param=message_key_input(salt),
            template=template,
        )

    def encrypt(self, spec: SpecInfo, version: KeyVersion, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes, bytes]:
        if spec.cipher is not Cipher.AES_GCM:
            raise _unsupported_spec(spec.name)
        p = _p11()
        salt, nonce = os.urandom(SALT_LEN), os.urandom(NONCE_LEN)

        def run(s: PooledSession) -> bytes:
            key = self._message_key(s, version.material_ref, spec, salt, p.Attribute.ENCRYPT)
            try:
                sealed: bytes = key.encrypt(
                    plaintext, mechanism=p.Mechanism.AES_GCM, mechanism_param=p.GCMParams(nonce, aad)
                )
                return sealed
            finally:
                key.destroy()

        return salt, nonce, self._tokens.call("encrypt", run)

    def decrypt(
        self, spec: SpecInfo, version: KeyVersion, aad: bytes, salt: bytes, nonce: bytes, sealed: bytes
    ) -> bytes:
        if spec.cipher is not Cipher.AES_GCM:
            raise _unsupported_spec(spec.name)
        if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN or len(sealed) < 16:
            raise errors.InvalidCiphertext()
        p = _p11()

        def run(s: PooledSession) -> bytes:
            key = self._message_key(s, version.material_ref, spec, salt, p.Attribute.DECRYPT)
            try:
                plaintext: bytes = key.decrypt(
                    sealed, mechanism=p.Mechanism.AES_GCM, mechanism_param=p.GCMParams(nonce, aad)
                )
                return plaintext
            except (p.GeneralError, p.EncryptedDataInvalid, p.EncryptedDataLenRange, p.DataLenRange):
                # SoftHSM2 answers CKR_GENERAL_ERROR to a GCM tag that does not verify.
                raise errors.InvalidCiphertext() from None
            finally:
                key.destroy()

        return self._tokens.call("decrypt", run)

    def random_bytes(self, n: int) -> bytes:
        if n <= 0:
            return b""

        def run(s: PooledSession) -> bytes:
            data: bytes = s.session.generate_random(n * 8)
            return data

        return self._tokens.call("generate random bytes", run)

    # --- asymmetric -------------------------------------------------------------------------------

    def _generate_pair(self, spec_name: str, oid: bytes, private_usage: dict[Any, Any]) -> bytes:
        """A key pair in the token; returns the public key's SubjectPublicKeyInfo (DER)."""
        p = _p11()
        a = p.Attribute
        private = {**self._stored(oid, secret=False), **private_usage}
        public = self._public(oid)

        def generate(s: PooledSession) -> bytes:
            if spec_name in _RSA_BITS:
                pub, _ = s.session.generate_keypair(
                    p.KeyType.RSA,
                    _RSA_BITS[spec_name],
                    capabilities=p.MechanismFlag(0),
                    store=True,
                    public_template={**public, a.VERIFY: True, a.ENCRYPT: True},
                    private_template=private,
                )
                n = int.from_bytes(pub[a.MODULUS], "big")
                e = int.from_bytes(pub[a.PUBLIC_EXPONENT], "big")
                return asymmetric.spki(rsa.RSAPublicNumbers(e, n).public_key())
            params, curve = _CURVES[spec_name]
            pub, _ = s.session.generate_keypair(
                p.KeyType.EC,
                mechanism=p.Mechanism.EC_KEY_PAIR_GEN,
                capabilities=p.MechanismFlag(0),
                store=True,
                public_template={**public, a.EC_PARAMS: params, a.VERIFY: True},
                private_template=private,
            )
            return asymmetric.spki(ec.EllipticCurvePublicKey.from_encoded_point(curve, _ec_point(pub[a.EC_POINT])))

        return self._tokens.call("generate a key pair", generate)

    def create_asymmetric(self, spec: SpecInfo, version_id: str) -> tuple[bytes, bytes]:
        if spec.name not in _RSA_BITS and spec.name not in _CURVES:
            raise _unsupported_spec(spec.name)
        a = _p11().Attribute
        oid = (_ID_PREFIX + version_id).encode("ascii")
        usage = {a.SIGN: True, a.DECRYPT: spec.name in _RSA_BITS}
        return REF_PREFIX + oid, self._generate_pair(spec.name, oid, usage)

    def sign(self, spec: SpecInfo, version: KeyVersion, algorithm: SignAlgorithm, digest: bytes) -> bytes:
        p = _p11()
        if algorithm is SignAlgorithm.RSA_PSS_SHA_256:
            data, mechanism = digest, p.Mechanism.RSA_PKCS_PSS
            param: Any = (p.Mechanism.SHA256, p.MGF.SHA256, asymmetric.PSS_SALT_BYTES)
        elif algorithm is SignAlgorithm.RSA_PKCS1_SHA_256:
            data, mechanism, param = _SHA256_DIGEST_INFO + digest, p.Mechanism.RSA_PKCS, None
        elif algorithm is SignAlgorithm.ECDSA_SHA_256:
            data, mechanism, param = digest, p.Mechanism.ECDSA, None
        else:
            raise _unsupported_spec(spec.name)

        def run(s: PooledSession) -> bytes:
            key = s.find(object_id(version.material_ref), p.ObjectClass.PRIVATE_KEY)
            signature: bytes = key.sign(data, mechanism=mechanism, mechanism_param=param)
            return signature

        signature = self._tokens.call("sign", run)
        if algorithm is SignAlgorithm.ECDSA_SHA_256:
            half = len(signature) // 2
            r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
            return encode_dss_signature(r, s)
        return signature

    @staticmethod
    def _oaep(algorithm: str, operation: str) -> tuple[Any, Any]:
        p = _p11()
        if algorithm == EncryptAlgorithm.RSAES_OAEP_SHA_1:
            return p.Mechanism.RSA_PKCS_OAEP, (p.Mechanism.SHA_1, p.MGF.SHA1, None)
        if algorithm == EncryptAlgorithm.RSAES_OAEP_SHA_256:
            return p.Mechanism.RSA_PKCS_OAEP, (p.Mechanism.SHA256, p.MGF.SHA256, None)
        if algorithm == "RSAES_PKCS1_V1_5":
            return p.Mechanism.RSA_PKCS, None
        raise errors.UnsupportedOperation(f"The PKCS#11 token cannot {operation} with {algorithm}.")

    def decrypt_asymmetric(
        self, spec: SpecInfo, version: KeyVersion, algorithm: EncryptAlgorithm, ciphertext: bytes
    ) -> bytes:
        if algorithm not in (EncryptAlgorithm.RSAES_OAEP_SHA_1, EncryptAlgorithm.RSAES_OAEP_SHA_256):
            raise _unsupported_spec(spec.name)
        mechanism, param = self._oaep(algorithm, "decrypt")
        p = _p11()

        def run(s: PooledSession) -> bytes:
            key = s.find(object_id(version.material_ref), p.ObjectClass.PRIVATE_KEY)
            try:
                plaintext: bytes = key.decrypt(ciphertext, mechanism=mechanism, mechanism_param=param)
                return plaintext
            except (p.ArgumentsBad, p.MechanismParamInvalid, p.MechanismInvalid):
                raise errors.UnsupportedOperation(
                    f"The PKCS#11 token does not implement {algorithm} (SoftHSM2 implements OAEP with SHA-1 "
                    "only); use RSAES_OAEP_SHA_1."
                ) from None
            except (p.GeneralError, p.EncryptedDataInvalid, p.EncryptedDataLenRange, p.DataLenRange, p.DataInvalid):
                raise errors.InvalidParameter(
                    "CiphertextBlob", "The ciphertext does not decrypt with this key."
                ) from None

        return self._tokens.call("decrypt", run)

    # --- import ---------------------------------------------------------------------------------

    def create_wrapping_key(self, wrapping_spec: str, token_id: str) -> tuple[bytes, bytes]:
        if wrapping_spec != "RSA_2048":
            raise errors.UnsupportedKeySpec(
                f"WrappingKeySpec {wrapping_spec} is not available for HSM keys: the PKCS#11 token has no "
                "SM2 mechanisms. Use RSA_2048."
            )
        a = _p11().Attribute
        oid = (_ID_PREFIX + "import:" + token_id).encode("ascii")
        return REF_PREFIX + oid, self._generate_pair(wrapping_spec, oid, {a.UNWRAP: True})

    def import_material(
        self, spec: SpecInfo, version_id: str, token: ImportToken, wrapped: bytes
    ) -> tuple[bytes, bytes]:
        """Unwrap in the token, in three steps, all inside it:

        1. Unwrap into a session object that may be wrapped but never read (sensitive), and wrap
           it under a throw-away session AES key with CKM_AES_KEY_WRAP: the length of that output
           tells the material's length, which SoftHSM2 leaves out of CKA_VALUE_LEN (it accepts
           any length for an unwrapped AES key). Both objects are destroyed.
        2. Unwrap again, into the version's token object: derive-only, never extractable.
        3. Fingerprint (the key check value): derive an AES-256 session key from the version key
           over a fixed input, and encrypt two fixed blocks with it under AES-ECB. Equal for equal
           material, different for different material, and reveals nothing about it. A derivation
           also fails for an AES key of a length other than 16, 24 or 32 bytes.

        Every failure answers the same InvalidKeyMaterial, so the answer does not tell a padding
        error from a length error. Material the token cannot unwrap (OAEP with SHA-256 on
        SoftHSM2, SM2) gets a clear error; nothing is unwrapped in software.
        """
        if spec.cipher is not Cipher.AES_GCM:
            raise _unsupported_spec(spec.name)
        mechanism, param = self._oaep(token.wrapping_algorithm, "unwrap imported material")
        p = _p11()
        a = p.Attribute
        oid = (_ID_PREFIX + version_id + ":import:" + os.urandom(8).hex()).encode("ascii")
        final = {**self._stored(oid, secret=True), a.DERIVE: True}
        probe = {a.TOKEN: False, a.PRIVATE: True, a.SENSITIVE: True, a.EXTRACTABLE: True}

        def run(s: PooledSession) -> bytes:
            wrapping_key = s.find(object_id(token.sealed_private_key), p.ObjectClass.PRIVATE_KEY)

            def unwrap(template: dict[Any, Any]) -> Any:
                try:
                    return wrapping_key.unwrap_key(
                        p.ObjectClass.SECRET_KEY,
                        p.KeyType.AES,
                        wrapped,
                        mechanism=mechanism,
                        mechanism_param=param,
                        capabilities=p.MechanismFlag(0),
                        template=template,
                    )
                except (p.ArgumentsBad, p.MechanismParamInvalid, p.MechanismInvalid):
                    raise errors.UnsupportedOperation(
                        f"The PKCS#11 token cannot unwrap {token.wrapping_algorithm} (SoftHSM2 implements OAEP "
                        "with SHA-1 only); ask for import parameters with RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5."
                    ) from None

            try:
                material = unwrap(probe)
                kek = s.session.generate_key(
                    p.KeyType.AES, 256, capabilities=p.MechanismFlag(0), store=False, template={a.WRAP: True}
                )
                try:
                    length = len(kek.wrap_key(material, mechanism=p.Mechanism.AES_KEY_WRAP)) - 8
                finally:
                    material.destroy()
                    kek.destroy()
                if length != spec.material_bytes:
                    raise errors.InvalidKeyMaterial(_IMPORT_FAILED)
                version_key = unwrap(final)
                try:
                    return self._fingerprint(version_key)
                except BaseException:
                    version_key.destroy()
                    raise
            except _infrastructure_errors():
                raise
            except p.PKCS11Error:
                raise errors.InvalidKeyMaterial(_IMPORT_FAILED) from None

        fingerprint = self._tokens.call("import key material", run)
        return REF_PREFIX + oid, fingerprint

    @staticmethod
    def _fingerprint(version_key: Any) -> bytes:
        p = _p11()
        a = p.Attribute
        check_key = version_key.derive_key(
            p.KeyType.AES,
            256,
            capabilities=p.MechanismFlag(0),
            mechanism=p.Mechanism.AES_ECB_ENCRYPT_DATA,
            mechanism_param=_FINGERPRINT_KEY_INPUT,
            template={a.TOKEN: False, a.PRIVATE: True, a.SENSITIVE: True, a.EXTRACTABLE: False, a.ENCRYPT: True},
        )
        try:
            value: bytes = check_key.encrypt(_FINGERPRINT_BLOCKS, mechanism=p.Mechanism.AES_ECB)
            return value
        finally:
            check_key.destroy()

    # --- housekeeping (not part of the port) -------------------------------------------------------

    def destroy(self, ref: bytes) -> int:
        """Destroy the token objects a reference names (deleted material, expired wrapping keys).
        Returns how many objects were destroyed."""
        oid = object_id(ref)
        p = _p11()

        def run(s: PooledSession) -> int:
            found = list(s.session.get_objects({p.Attribute.ID: oid}))
            for obj in found:
                obj.destroy()
            s.forget()
            return len(found)

        return self._tokens.call("destroy a key", run)


def _infrastructure_errors() -> tuple[type[Exception], ...]:
    """Errors that say the token or session failed, not the caller's data."""
    p = _p11()
    return (
        p.UserNotLoggedIn,
        p.SessionHandleInvalid,
        p.SessionClosed,
        p.ObjectHandleInvalid,
        p.KeyHandleInvalid,
        p.DeviceError,
        p.DeviceMemory,
        p.DeviceRemoved,
        p.TokenNotPresent,
        p.HostMemory,
    )


def _ec_point(value: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (some tokens give it raw)."""
    if len(value) == 67 and value[0] == 0x04 and value[1] == 65:
        return value[2:]
    return value
