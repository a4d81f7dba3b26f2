"""How openkms keys look inside a PKCS#11 token: names, templates, derivations and encodings.

Object naming: CKA_ID = CKA_LABEL = ``openkms:<version id>`` (an imported version gets a random
suffix, so that importing again never collides); an import wrapping key is
``openkms:import:<token id>``. The stored reference is ``b"pkcs11:v1:" + CKA_ID``: derived from
ids alone, it holds nothing about the key. Ids are lower-case UUIDs, so ``is_key_object_id``
tells these names from anything else in the token (the root key ``openkms:root-key``, other
applications' objects), which reconciliation must never touch.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from openkms.crypto.algorithms import KEY_TYPES, TokenMechanism, spki
from openkms.domain import errors
from openkms.domain.specs import SpecInfo

REF_PREFIX = b"pkcs11:v1:"
ID_PREFIX = "openkms:"
MESSAGE_KEY_DOMAIN = b"openkms/hsm/v1/message-key"
FINGERPRINT_KEY_INPUT = hashlib.sha256(b"openkms/hsm/v1/material-fingerprint-key").digest()
FINGERPRINT_BLOCKS = hashlib.sha256(b"openkms/hsm/v1/material-fingerprint").digest()


def p11() -> Any:
    """The python-pkcs11 package (imported lazily: a server without HSM keys never loads it)."""
    import pkcs11

    return pkcs11


# --- names -----------------------------------------------------------------------------------------


def version_object_id(version_id: str, imported: str = "") -> bytes:
    suffix = f":import:{imported}" if imported else ""
    return (ID_PREFIX + version_id + suffix).encode("ascii")


def wrapping_object_id(token_id: str) -> bytes:
    return (ID_PREFIX + "import:" + token_id).encode("ascii")


_UUID = rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY_OBJECT_ID = re.compile(rb"openkms:(?:import:" + _UUID + rb"|" + _UUID + rb"(?::import:[0-9a-f]{16})?)")


def is_key_object_id(object_id: bytes) -> bool:
    """Whether a CKA_ID is one openkms gives a key version or an import wrapping key."""
    return _KEY_OBJECT_ID.fullmatch(object_id) is not None


def reference(object_id: bytes) -> bytes:
    return REF_PREFIX + object_id


def object_id(ref: bytes) -> bytes:
    """The CKA_ID a stored reference names; IntegrityError if it is not a PKCS#11 reference."""
    if not ref.startswith(REF_PREFIX) or not (len(REF_PREFIX) < len(ref) <= len(REF_PREFIX) + 128):
        raise errors.IntegrityError("HSM key reference")
    return ref[len(REF_PREFIX) :]


# --- templates -------------------------------------------------------------------------------------


def stored_template(oid: bytes, secret: bool, **granted: bool) -> dict[Any, Any]:
    """A stored private or secret key: a private, sensitive token object that never leaves the
    token, named ``oid``, able to do nothing but what ``granted`` names (e.g. DERIVE=True)."""
    a = p11().Attribute
    template = {
        a.TOKEN: True,
        a.PRIVATE: True,
        a.SENSITIVE: True,
        a.EXTRACTABLE: False,
        a.ID: oid,
        a.LABEL: oid.decode("ascii"),
        a.DECRYPT: False,
        a.SIGN: False,
        a.UNWRAP: False,
        a.DERIVE: False,
    }
    if secret:
        template.update({a.ENCRYPT: False, a.WRAP: False, a.VERIFY: False})
    template.update({getattr(a, name): value for name, value in granted.items()})
    return template


def public_template(oid: bytes, **granted: Any) -> dict[Any, Any]:
    a = p11().Attribute
    template = {a.TOKEN: True, a.PRIVATE: False, a.ID: oid, a.LABEL: oid.decode("ascii")}
    template.update({getattr(a, name): value for name, value in granted.items()})
    return template


def session_key_template(**granted: bool) -> dict[Any, Any]:
    """A short-lived key: a sensitive, non-extractable session object (destroyed after use)."""
    a = p11().Attribute
    template = {a.TOKEN: False, a.PRIVATE: True, a.SENSITIVE: True, a.EXTRACTABLE: False}
    template.update({getattr(a, name): value for name, value in granted.items()})
    return template


# --- derivations -----------------------------------------------------------------------------------


def message_key_input(salt: bytes) -> bytes:
    """The two AES blocks the version key encrypts to make a message's key (public: from the salt)."""
    return hashlib.sha256(MESSAGE_KEY_DOMAIN + salt).digest()


def derive_message_key(version_key: Any, spec: SpecInfo, salt: bytes, usage: str) -> Any:
    """The message's own AES key, a session object: AES-ECB(version key, input)[:key length]."""
    p = p11()
    return version_key.derive_key(
        p.KeyType.AES,
        spec.material_bytes * 8,
        capabilities=p.MechanismFlag(0),
        mechanism=p.Mechanism.AES_ECB_ENCRYPT_DATA,
        mechanism_param=message_key_input(salt),
        template=session_key_template(**{usage: True}),
    )


def message_gcm(
    version_key: Any, spec: SpecInfo, salt: bytes, nonce: bytes, aad: bytes, data: bytes, seal: bool
) -> bytes:
    """AES-GCM under the message's own key (``derive_message_key``), destroyed right after: seals
    ``data`` (returns ciphertext || tag) or opens it (returns the plaintext)."""
    p = p11()
    key = derive_message_key(version_key, spec, salt, "ENCRYPT" if seal else "DECRYPT")
    try:
        run = key.encrypt if seal else key.decrypt
        out: bytes = run(data, mechanism=p.Mechanism.AES_GCM, mechanism_param=p.GCMParams(nonce, aad))
        return out
    finally:
        key.destroy()


def fingerprint(version_key: Any) -> bytes:
    """The key check value of a version key, computed in the token: AES-ECB under a key derived
    from the version key (over a fixed input) of two fixed blocks. Equal for equal material,
    different for different material, and it reveals nothing about the material."""
    p = p11()
    check_key = version_key.derive_key(
        p.KeyType.AES,
        256,
        capabilities=p.MechanismFlag(0),
        mechanism=p.Mechanism.AES_ECB_ENCRYPT_DATA,
        mechanism_param=FINGERPRINT_KEY_INPUT,
        template=session_key_template(ENCRYPT=True),
    )
    try:
        value: bytes = check_key.encrypt(FINGERPRINT_BLOCKS, mechanism=p.Mechanism.AES_ECB)
        return value
    finally:
        check_key.destroy()


class UnwrapUnsupported(Exception):
    """The token cannot unwrap with this mechanism or parameter (the caller names the algorithm)."""


def unwrap_secret(wrapping_key: Any, wrapped: bytes, key_type: str, row: TokenMechanism, template: Any) -> Any:
    """Unwrap ``wrapped`` into a secret key object of ``key_type`` made from ``template``.
    ``UnwrapUnsupported`` when the token lacks the mechanism (or its parameter)."""
    p = p11()
    mech, param = mechanism(row)
    try:
        return wrapping_key.unwrap_key(
            p.ObjectClass.SECRET_KEY,
            p.KeyType[key_type],
            wrapped,
            mechanism=mech,
            mechanism_param=param,
            capabilities=p.MechanismFlag(0),
            template=template,
        )
    except (p.ArgumentsBad, p.MechanismParamInvalid, p.MechanismInvalid):
        raise UnwrapUnsupported() from None


def probe_template() -> dict[Any, Any]:
    """A session key that may be wrapped but never read: for learning an unwrapped key's length."""
    a = p11().Attribute
    return {a.TOKEN: False, a.PRIVATE: True, a.SENSITIVE: True, a.EXTRACTABLE: True}


def secret_length(session: Any, key: Any) -> int:
    """The length of a secret key's value, learnt without reading it: its wrapping under a throw-away
    session AES key with CKM_AES_KEY_WRAP, less the 8 bytes that adds. Both keys are destroyed."""
    p = p11()
    try:
        kek = session.generate_key(
            p.KeyType.AES, 256, capabilities=p.MechanismFlag(0), store=False, template={p.Attribute.WRAP: True}
        )
        try:
            return len(kek.wrap_key(key, mechanism=p.Mechanism.AES_KEY_WRAP)) - 8
        finally:
            kek.destroy()
    finally:
        key.destroy()


def fingerprint_or_destroy(version_key: Any) -> bytes:
    """``fingerprint`` of a new version key, which is destroyed if that fails."""
    try:
        return fingerprint(version_key)
    except BaseException:
        with suppress(p11().PKCS11Error):
            version_key.destroy()
        raise


# --- mechanisms and encodings ----------------------------------------------------------------------


def mechanism(row: TokenMechanism) -> tuple[Any, Any]:
    """A catalogue row's mechanism and parameter, as python-pkcs11 takes them."""
    p = p11()
    param = (p.Mechanism[row.hash], p.MGF[row.mgf], row.salt_bytes) if row.hash and row.mgf else None
    return p.Mechanism[row.name], param


def public_key_spki(spec_name: str, public_key: Any) -> bytes:
    """The SubjectPublicKeyInfo (DER) of a token public key, built from its attributes."""
    key_type = KEY_TYPES[spec_name]
    assert key_type.token is not None
    a = p11().Attribute
    return spki(key_type.from_token({name: bytes(public_key[a[name]]) for name in key_type.token.read}))


def ecdsa_der(raw: bytes) -> bytes:
    """CKM_ECDSA's r || s as the DER SEQUENCE that cryptography, OpenSSL and the SDKs verify."""
    half = len(raw) // 2
    return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))


def unsupported_spec(spec_name: str) -> errors.UnsupportedKeySpec:
    return errors.UnsupportedKeySpec(
        f"KeySpec {spec_name} is not available with ProtectionLevel HSM: the PKCS#11 token has no "
        "SM2/SM4 mechanisms. Use ProtectionLevel SOFTWARE for this KeySpec."
    )


def infrastructure_errors() -> tuple[type[Exception], ...]:
    """Errors that say the token or a session failed, not the caller's data."""
    p = p11()
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
