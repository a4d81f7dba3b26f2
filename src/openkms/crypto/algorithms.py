"""The crypto half of the catalogue: how each row of ``domain/algorithms.py`` and each key spec and
cipher of ``domain/specs.py`` is computed.

- ``KEY_TYPES``, per asymmetric key spec: how its key pairs are generated, loaded and recognised
  with ``cryptography`` (SM2 with ``crypto/sm2.py``), and how a PKCS#11 token generates them.
- ``SIGNATURES`` and ``CIPHERS``, per algorithm: its hash and padding, and its PKCS#11 mechanism
  and parameter.
- ``AEADS``, per symmetric cipher: the message-key derivation, the AEAD, and the token key type.

The software backend, the PKCS#11 backend, the public-key operations and the command line look
rows up here; none of them switches on a name. A row whose ``token`` is None is one a PKCS#11
token has no mechanism for: the PKCS#11 backend declares it unavailable (``Capabilities``).
PKCS#11 names (mechanisms, key types, attributes) are python-pkcs11's, as strings: that package
is imported only by processes that open a token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher as _Cipher
from cryptography.hazmat.primitives.ciphers import algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openkms.crypto import sm2
from openkms.domain import errors
from openkms.domain.ciphertext import TAG_LEN
from openkms.domain.specs import SPECS, Cipher, KeyFamily

PSS_SALT_BYTES = 32  # the digest length, as Alibaba KMS signs (OpenSSL rsa_pss_saltlen:-1 verifies it)
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")  # PKCS#1 v1.5's prefix


def spki(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def pkcs8(private_key: Any) -> bytes:
    der: bytes = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der


# --- key types, per asymmetric key spec --------------------------------------------------------------


@dataclass(frozen=True)
class TokenKeyPair:
    """How a PKCS#11 token generates a key pair of a spec."""

    key_type: str  # a python-pkcs11 KeyType name
    bits: int | None = None  # the modulus size, for RSA
    mechanism: str | None = None  # None: the key type's default generation mechanism
    public: Mapping[str, Any] = field(default_factory=dict)  # attributes of the public half
    read: tuple[str, ...] = ()  # the public key's attributes that make its SubjectPublicKeyInfo


class KeyType(Protocol):
    """A kind of key pair, with its size or curve."""

    @property
    def token(self) -> TokenKeyPair | None: ...
    @property
    def pregenerate(self) -> bool:
        """Slow enough to generate that the software backend keeps a few pairs ready."""
        ...

    def generate(self) -> tuple[bytes, bytes]:
        """A new key pair: (PKCS#8 DER private key, SPKI DER public key)."""
        ...

    def load_private(self, der: bytes) -> Any: ...
    def load_public(self, der: bytes) -> Any: ...
    def of_kind(self, public_key: Any) -> bool:
        """A key of this kind (RSA, EC, SM2), whatever its size or curve."""
        ...

    def matches(self, public_key: Any) -> bool:
        """A key of exactly this spec."""
        ...

    def unavailable(self) -> str | None:
        """Why this machine cannot make such keys in software; None when it can."""
        ...

    def from_token(self, attributes: Mapping[str, bytes]) -> Any:
        """The public key from a token's public-key attributes (``token.read``)."""
        ...


class _Cryptography:
    """Keys ``cryptography`` parses on its own (RSA, EC on its curves)."""

    pregenerate = False

    def load_private(self, der: bytes) -> Any:
        # The key was generated and sealed by us: skip the slow RSA consistency check on load.
        return serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)

    def load_public(self, der: bytes) -> Any:
        return serialization.load_der_public_key(der)

    def unavailable(self) -> str | None:
        return None


class RsaKeys(_Cryptography):
    pregenerate = True

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.token = TokenKeyPair("RSA", bits, public={"ENCRYPT": True}, read=("MODULUS", "PUBLIC_EXPONENT"))

    def generate(self) -> tuple[bytes, bytes]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.bits)
        return pkcs8(key), spki(key.public_key())

    def of_kind(self, public_key: Any) -> bool:
        return isinstance(public_key, rsa.RSAPublicKey)

    def matches(self, public_key: Any) -> bool:
        return self.of_kind(public_key) and public_key.key_size == self.bits

    def from_token(self, attributes: Mapping[str, bytes]) -> Any:
        n, e = (int.from_bytes(attributes[name], "big") for name in ("MODULUS", "PUBLIC_EXPONENT"))
        return rsa.RSAPublicNumbers(e, n).public_key()


class EcKeys(_Cryptography):
    def __init__(self, curve: ec.EllipticCurve, oid_der: bytes) -> None:
        self.curve = curve
        self.token = TokenKeyPair("EC", mechanism="EC_KEY_PAIR_GEN", public={"EC_PARAMS": oid_der}, read=("EC_POINT",))

    def generate(self) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(self.curve)
        return pkcs8(key), spki(key.public_key())

    def of_kind(self, public_key: Any) -> bool:
        return isinstance(public_key, ec.EllipticCurvePublicKey)

    def matches(self, public_key: Any) -> bool:
        return self.of_kind(public_key) and public_key.curve.name == self.curve.name

    def from_token(self, attributes: Mapping[str, bytes]) -> Any:
        point = attributes["EC_POINT"]
        # CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (some tokens give it raw).
        if len(point) == 67 and point[0] == 0x04 and point[1] == 65:
            point = point[2:]
        return ec.EllipticCurvePublicKey.from_encoded_point(self.curve, point)


class Sm2Keys:
    """SM2 on the system's OpenSSL 3 libcrypto; PKCS#11 tokens have no SM2 mechanisms."""

    token = None
    pregenerate = False

    def generate(self) -> tuple[bytes, bytes]:
        key = sm2.Sm2PrivateKey.generate()
        return key.to_der(), key.public_key().to_der()

    def load_private(self, der: bytes) -> Any:
        return sm2.Sm2PrivateKey.from_der(der)

    def load_public(self, der: bytes) -> Any:
        return sm2.Sm2PublicKey.from_der(der)

    def of_kind(self, public_key: Any) -> bool:
        return isinstance(public_key, sm2.Sm2PublicKey)

    def matches(self, public_key: Any) -> bool:
        return self.of_kind(public_key)  # from_der accepts keys on the SM2 curve only

    def unavailable(self) -> str | None:
        if sm2.available():
            return None
        return "EC_SM2 keys need the system's OpenSSL 3 libcrypto with SM2, which this machine lacks."

    def from_token(self, attributes: Mapping[str, bytes]) -> Any:
        # SM2 keys live only in the software backend: no PKCS#11 token here holds one.
        raise errors.UnsupportedOperation("EC_SM2 keys are not kept in a PKCS#11 token.")


KEY_TYPES: dict[str, KeyType] = {
    # Every RSA spec is RSA of its size (specs.py): an RSA spec needs no row of its own here.
    **{name: RsaKeys(spec.key_bits) for name, spec in SPECS.items() if spec.family is KeyFamily.RSA},
    "EC_P256": EcKeys(ec.SECP256R1(), bytes.fromhex("06082a8648ce3d030107")),  # 1.2.840.10045.3.1.7
    "EC_P256K": EcKeys(ec.SECP256K1(), bytes.fromhex("06052b8104000a")),  # 1.3.132.0.10
    "EC_SM2": Sm2Keys(),
}


# --- algorithms ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenMechanism:
    """A PKCS#11 mechanism and its parameter. OAEP and PSS take (hash, MGF1 hash, third), the
    third being PSS's salt length and OAEP's label (none)."""

    name: str  # a python-pkcs11 Mechanism name
    hash: str | None = None  # a Mechanism name
    mgf: str | None = None  # an MGF name
    salt_bytes: int | None = None
    prefix: bytes = b""  # put before the digest: PKCS#1 v1.5 signs a DigestInfo
    raw_signature: bool = False  # the token returns r || s (CKM_ECDSA), re-encoded as DER


class Signature(Protocol):
    @property
    def token(self) -> TokenMechanism | None: ...
    def sign(self, private_key: Any, digest: bytes) -> bytes: ...
    def verify(self, public_key: Any, digest: bytes, signature: bytes) -> bool:
        """False for a signature that does not verify (malformed input may raise ValueError)."""
        ...


class Encryption(Protocol):
    @property
    def token(self) -> TokenMechanism | None: ...
    def encrypt(self, public_key: Any, plaintext: bytes) -> bytes: ...
    def decrypt(self, private_key: Any, ciphertext: bytes) -> bytes:
        """Raises ValueError (``sm2.Sm2Error`` is one) when the ciphertext does not decrypt."""
        ...


@dataclass(frozen=True)
class PaddedSignature:
    """RSA (PSS, PKCS#1 v1.5) and ECDSA over a digest computed by the caller."""

    scheme: Callable[[utils.Prehashed], tuple[Any, ...]]  # the digest -> sign()'s arguments after the data
    hash: hashes.HashAlgorithm
    token: TokenMechanism

    def sign(self, private_key: Any, digest: bytes) -> bytes:
        signature: bytes = private_key.sign(digest, *self.scheme(utils.Prehashed(self.hash)))
        return signature

    def verify(self, public_key: Any, digest: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, digest, *self.scheme(utils.Prehashed(self.hash)))
        except InvalidSignature:
            return False
        return True


class Sm2Signature:
    token = None

    def sign(self, private_key: Any, digest: bytes) -> bytes:
        signature: bytes = private_key.sign_digest(digest)
        return signature

    def verify(self, public_key: Any, digest: bytes, signature: bytes) -> bool:
        return bool(public_key.verify_digest(digest, signature))


@dataclass(frozen=True)
class PaddedEncryption:
    """RSA with its padding (OAEP, PKCS#1 v1.5), and SM2, which takes none."""

    padding: Callable[[], tuple[Any, ...]]  # encrypt()'s and decrypt()'s arguments after the data
    token: TokenMechanism | None

    def encrypt(self, public_key: Any, plaintext: bytes) -> bytes:
        ciphertext: bytes = public_key.encrypt(plaintext, *self.padding())
        return ciphertext

    def decrypt(self, private_key: Any, ciphertext: bytes) -> bytes:
        plaintext: bytes = private_key.decrypt(ciphertext, *self.padding())
        return plaintext


def _oaep(h: Callable[[], hashes.HashAlgorithm]) -> Callable[[], tuple[padding.OAEP]]:
    return lambda: (padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(), label=None),)


SIGNATURES: dict[str, Signature] = {
    "RSA_PSS_SHA_256": PaddedSignature(
        lambda prehashed: (padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_BYTES), prehashed),
        hashes.SHA256(),
        TokenMechanism("RSA_PKCS_PSS", hash="SHA256", mgf="SHA256", salt_bytes=PSS_SALT_BYTES),
    ),
    "RSA_PKCS1_SHA_256": PaddedSignature(
        lambda prehashed: (padding.PKCS1v15(), prehashed),
        hashes.SHA256(),
        TokenMechanism("RSA_PKCS", prefix=SHA256_DIGEST_INFO),
    ),
    "ECDSA_SHA_256": PaddedSignature(
        lambda prehashed: (ec.ECDSA(prehashed),), hashes.SHA256(), TokenMechanism("ECDSA", raw_signature=True)
    ),
    "SM2DSA": Sm2Signature(),
}

CIPHERS: dict[str, Encryption] = {
    "RSAES_OAEP_SHA_256": PaddedEncryption(
        _oaep(hashes.SHA256), TokenMechanism("RSA_PKCS_OAEP", hash="SHA256", mgf="SHA256")
    ),
    "RSAES_OAEP_SHA_1": PaddedEncryption(_oaep(hashes.SHA1), TokenMechanism("RSA_PKCS_OAEP", hash="SHA_1", mgf="SHA1")),
    "RSAES_PKCS1_V1_5": PaddedEncryption(lambda: (padding.PKCS1v15(),), TokenMechanism("RSA_PKCS")),
    "SM2PKE": PaddedEncryption(lambda: (), None),  # crypto/sm2.py: GM/T 0009 C1C3C2, no padding to choose
}


# --- symmetric ciphers -----------------------------------------------------------------------------


def _aes_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def _aes_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(nonce, sealed, aad)


def _sm4_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    enc = _Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    return enc.update(plaintext) + enc.finalize() + enc.tag


def _sm4_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    dec = _Cipher(algorithms.SM4(key), modes.GCM(nonce, sealed[-TAG_LEN:])).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(sealed[:-TAG_LEN]) + dec.finalize()


@dataclass(frozen=True)
class Aead:
    """A symmetric cipher: its per-message key derivation (HKDF) and its AEAD."""

    kdf_hash: Callable[[], hashes.HashAlgorithm]
    info: bytes  # HKDF's info: frozen, the known blobs (tests/vectors) were made with it
    seal: Callable[[bytes, bytes, bytes, bytes], bytes]  # (key, nonce, plaintext, aad) -> ciphertext || tag
    open: Callable[[bytes, bytes, bytes, bytes], bytes]  # (key, nonce, ciphertext || tag, aad) -> plaintext
    token_key_type: str | None  # the python-pkcs11 KeyType of a token's version keys; None: no mechanism


AEADS: dict[Cipher, Aead] = {
    Cipher.AES_GCM: Aead(hashes.SHA256, b"openkms/v1/message-key/aes-gcm", _aes_gcm_seal, _aes_gcm_open, "AES"),
    Cipher.SM4_GCM: Aead(hashes.SM3, b"openkms/v1/message-key/sm4-gcm", _sm4_gcm_seal, _sm4_gcm_open, None),
}
