"""Asymmetric algorithms: which spec and usage allow which algorithm, digest and plaintext sizes."""

from __future__ import annotations

from enum import StrEnum

from openkms.domain import errors
from openkms.domain.specs import KeyUsage, SpecInfo

DIGEST_BYTES = 32  # SHA-256 and SM3 digests, the only ones the API's algorithms use
DEFAULT_VERSION_SPACING_DAYS = 7


class SignAlgorithm(StrEnum):
    RSA_PSS_SHA_256 = "RSA_PSS_SHA_256"
    RSA_PKCS1_SHA_256 = "RSA_PKCS1_SHA_256"
    ECDSA_SHA_256 = "ECDSA_SHA_256"
    SM2DSA = "SM2DSA"


class EncryptAlgorithm(StrEnum):
    RSAES_OAEP_SHA_256 = "RSAES_OAEP_SHA_256"
    RSAES_OAEP_SHA_1 = "RSAES_OAEP_SHA_1"
    SM2PKE = "SM2PKE"


_RSA_SIGN = (SignAlgorithm.RSA_PSS_SHA_256, SignAlgorithm.RSA_PKCS1_SHA_256)
_RSA_ENCRYPT = (EncryptAlgorithm.RSAES_OAEP_SHA_256, EncryptAlgorithm.RSAES_OAEP_SHA_1)

SIGN_ALGORITHMS: dict[str, tuple[SignAlgorithm, ...]] = {
    "RSA_2048": _RSA_SIGN,
    "RSA_3072": _RSA_SIGN,
    "EC_P256": (SignAlgorithm.ECDSA_SHA_256,),
    "EC_P256K": (SignAlgorithm.ECDSA_SHA_256,),
    "EC_SM2": (SignAlgorithm.SM2DSA,),
}
ENCRYPT_ALGORITHMS: dict[str, tuple[EncryptAlgorithm, ...]] = {
    "RSA_2048": _RSA_ENCRYPT,
    "RSA_3072": _RSA_ENCRYPT,
    "EC_SM2": (EncryptAlgorithm.SM2PKE,),
}

# RSAES-OAEP carries at most k - 2*hLen - 2 bytes; SM2PKE as the API documents.
MAX_PLAINTEXT: dict[tuple[str, EncryptAlgorithm], int] = {
    ("RSA_2048", EncryptAlgorithm.RSAES_OAEP_SHA_256): 190,
    ("RSA_2048", EncryptAlgorithm.RSAES_OAEP_SHA_1): 214,
    ("RSA_3072", EncryptAlgorithm.RSAES_OAEP_SHA_256): 318,
    ("RSA_3072", EncryptAlgorithm.RSAES_OAEP_SHA_1): 342,
    ("EC_SM2", EncryptAlgorithm.SM2PKE): 6047,
}

# Wrapping a data key for export (GenerateAndExportDataKey / ExportDataKey).
WRAPPING_ALGORITHMS: dict[str, tuple[EncryptAlgorithm, ...]] = {
    "RSA_2048": _RSA_ENCRYPT,
    "EC_SM2": (EncryptAlgorithm.SM2PKE,),
}


def _require_usage(spec: SpecInfo, usage: KeyUsage, wanted: KeyUsage) -> None:
    if spec.symmetric:
        raise errors.UnsupportedOperation("This operation needs an asymmetric key.")
    if usage is not wanted:
        raise errors.UnsupportedOperation(f"This operation needs a key whose KeyUsage is {wanted}.")


def sign_algorithm(spec: SpecInfo, usage: KeyUsage, name: str) -> SignAlgorithm:
    _require_usage(spec, usage, KeyUsage.SIGN_VERIFY)
    allowed = SIGN_ALGORITHMS[spec.name]
    if name not in allowed:
        raise errors.InvalidParameter("Algorithm", f"KeySpec {spec.name} signs with {', '.join(allowed)}.")
    return SignAlgorithm(name)


def encrypt_algorithm(spec: SpecInfo, usage: KeyUsage, name: str) -> EncryptAlgorithm:
    _require_usage(spec, usage, KeyUsage.ENCRYPT_DECRYPT)
    allowed = ENCRYPT_ALGORITHMS[spec.name]
    if name not in allowed:
        raise errors.InvalidParameter("Algorithm", f"KeySpec {spec.name} encrypts with {', '.join(allowed)}.")
    return EncryptAlgorithm(name)


def check_digest(digest: bytes) -> bytes:
    if len(digest) != DIGEST_BYTES:
        raise errors.InvalidParameter("Digest", f"The digest must be {DIGEST_BYTES} bytes (base64-encoded).")
    return digest


def check_plaintext(spec_name: str, algorithm: EncryptAlgorithm, plaintext: bytes) -> bytes:
    limit = MAX_PLAINTEXT[(spec_name, algorithm)]
    if not plaintext or len(plaintext) > limit:
        raise errors.InvalidParameter(
            "Plaintext", f"{spec_name} with {algorithm} encrypts 1 to {limit} bytes; got {len(plaintext)}."
        )
    return plaintext


def wrapping_algorithm(wrapping_spec: str, name: str) -> EncryptAlgorithm:
    if wrapping_spec not in WRAPPING_ALGORITHMS:
        raise errors.InvalidParameter("WrappingKeySpec", f"Valid values: {', '.join(WRAPPING_ALGORITHMS)}.")
    allowed = WRAPPING_ALGORITHMS[wrapping_spec]
    if name not in allowed:
        raise errors.InvalidParameter(
            "WrappingAlgorithm", f"WrappingKeySpec {wrapping_spec} wraps with {', '.join(allowed)}."
        )
    return EncryptAlgorithm(name)
