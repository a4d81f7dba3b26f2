"""Software asymmetric keys: RSA and ECDSA (P-256, secp256k1) with ``cryptography``, SM2 on
OpenSSL's libcrypto (``crypto/sm2.py``). Every signature and ciphertext is standard, so ordinary
tools verify and produce them with only the public key.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from openkms.domain import errors, importing
from openkms.domain.algorithms import EncryptAlgorithm, SignAlgorithm

RSA_BITS = {"RSA_2048": 2048, "RSA_3072": 3072}
CURVES: dict[str, ec.EllipticCurve] = {"EC_P256": ec.SECP256R1(), "EC_P256K": ec.SECP256K1()}
PSS_SALT_BYTES = 32  # the digest length, as Alibaba KMS signs (OpenSSL rsa_pss_saltlen:-1 verifies it)
_SHA256 = utils.Prehashed(hashes.SHA256())


def _oaep(algorithm: EncryptAlgorithm) -> padding.OAEP:
    h: hashes.HashAlgorithm = hashes.SHA256() if algorithm is EncryptAlgorithm.RSAES_OAEP_SHA_256 else hashes.SHA1()  # noqa: S303
    return padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_BYTES)


def spki(public_key: Any) -> bytes:
    der: bytes = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def pkcs8(private_key: Any) -> bytes:
    der: bytes = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return der


def unavailable_specs() -> dict[str, str]:
    """The asymmetric specs this machine cannot generate, with the reason: SM2 needs the system's
    OpenSSL 3 libcrypto with SM2 enabled."""
    from openkms.crypto import sm2

    if not sm2.available():
        return {"EC_SM2": "EC_SM2 keys need the system's OpenSSL 3 libcrypto with SM2, which this machine lacks."}
    return {}


def generate(spec_name: str) -> tuple[bytes, bytes]:
    """A new key pair: (PKCS#8 DER private key, SPKI DER public key)."""
    if spec_name in RSA_BITS:
        key: Any = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS[spec_name])
    elif spec_name in CURVES:
        key = ec.generate_private_key(CURVES[spec_name])
    elif spec_name == "EC_SM2":
        from openkms.crypto import sm2

        sm2_key = sm2.Sm2PrivateKey.generate()
        return sm2_key.to_der(), sm2_key.public_key().to_der()
    else:  # pragma: no cover - the domain only asks for asymmetric specs
        raise errors.UnsupportedKeySpec(f"KeySpec {spec_name} is not asymmetric.")
    return pkcs8(key), spki(key.public_key())


def load_private(spec_name: str, der: bytes) -> Any:
    if spec_name == "EC_SM2":
        from openkms.crypto import sm2

        return sm2.Sm2PrivateKey.from_der(der)
    # The key was generated and sealed by us: skip the slow RSA consistency check on load.
    return serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)


def load_public(spec_name: str, der: bytes) -> Any:
    if spec_name == "EC_SM2":
        from openkms.crypto import sm2

        return sm2.Sm2PublicKey.from_der(der)
    return serialization.load_der_public_key(der)


def sign(spec_name: str, private_key: Any, algorithm: SignAlgorithm, digest: bytes) -> bytes:
    if algorithm is SignAlgorithm.SM2DSA:
        signature: bytes = private_key.sign_digest(digest)
    elif algorithm is SignAlgorithm.ECDSA_SHA_256:
        signature = private_key.sign(digest, ec.ECDSA(_SHA256))
    elif algorithm is SignAlgorithm.RSA_PSS_SHA_256:
        signature = private_key.sign(digest, _pss(), _SHA256)
    else:
        signature = private_key.sign(digest, padding.PKCS1v15(), _SHA256)
    return signature


def verify(spec_name: str, public_key: Any, algorithm: SignAlgorithm, digest: bytes, signature: bytes) -> bool:
    try:
        if algorithm is SignAlgorithm.SM2DSA:
            return bool(public_key.verify_digest(digest, signature))
        if algorithm is SignAlgorithm.ECDSA_SHA_256:
            public_key.verify(signature, digest, ec.ECDSA(_SHA256))
        elif algorithm is SignAlgorithm.RSA_PSS_SHA_256:
            public_key.verify(signature, digest, _pss(), _SHA256)
        else:
            public_key.verify(signature, digest, padding.PKCS1v15(), _SHA256)
    except (InvalidSignature, ValueError, UnsupportedAlgorithm):
        return False
    return True


def encrypt(public_key: Any, algorithm: EncryptAlgorithm, plaintext: bytes) -> bytes:
    if algorithm is EncryptAlgorithm.SM2PKE:
        ciphertext: bytes = public_key.encrypt(plaintext)
    else:
        ciphertext = public_key.encrypt(plaintext, _oaep(algorithm))
    return ciphertext


def decrypt(private_key: Any, algorithm: EncryptAlgorithm, ciphertext: bytes) -> bytes:
    try:
        if algorithm is EncryptAlgorithm.SM2PKE:
            plaintext: bytes = private_key.decrypt(ciphertext)
        else:
            plaintext = private_key.decrypt(ciphertext, _oaep(algorithm))
    except ValueError:  # includes sm2.Sm2Error
        raise errors.InvalidParameter("CiphertextBlob", "The ciphertext does not decrypt with this key.") from None
    return plaintext


def unwrap(private_key: Any, wrapping_algorithm: str, wrapped: bytes) -> bytes:
    """Decrypt imported key material. Every failure is InvalidKeyMaterial, never an exception
    that tells a padding error from another (RSAES-PKCS1-v1_5 decryption here uses implicit
    rejection: a bad ciphertext yields random bytes, which the caller's length and binding
    checks then refuse)."""
    try:
        if wrapping_algorithm == "RSAES_PKCS1_V1_5":
            material: bytes = private_key.decrypt(wrapped, padding.PKCS1v15())
        elif wrapping_algorithm == "SM2PKE":
            material = private_key.decrypt(wrapped)
        else:
            material = private_key.decrypt(wrapped, _oaep(EncryptAlgorithm(wrapping_algorithm)))
    except ValueError:  # includes sm2.Sm2Error
        raise errors.InvalidKeyMaterial(importing.UNWRAP_FAILED) from None
    return material


def key_matches_spec(spec_name: str, public_key: Any) -> bool:
    if spec_name in RSA_BITS:
        return isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == RSA_BITS[spec_name]
    if spec_name in CURVES:
        return isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == CURVES[spec_name].name
    return spec_name == "EC_SM2"
