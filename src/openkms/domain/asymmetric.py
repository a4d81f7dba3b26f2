"""The checks of an asymmetric request: the key's spec and usage allow the algorithm, the digest and
plaintext fit it. The facts come from the catalogue (``domain/algorithms.py``)."""

from __future__ import annotations

from openkms.domain import errors
from openkms.domain.algorithms import (
    WRAPPING_KEY_SPECS,
    EncryptAlgorithm,
    Purpose,
    SignAlgorithm,
    algorithms_for,
    digest_bytes,
    max_plaintext,
)
from openkms.domain.specs import SPECS, KeyUsage, SpecInfo

DEFAULT_VERSION_SPACING_DAYS = 7

# Views of the catalogue (domain/algorithms.py): spec -> the algorithms it allows, in catalogue order.
_ASYMMETRIC = [name for name, spec in SPECS.items() if not spec.symmetric]
SIGN_ALGORITHMS: dict[str, tuple[SignAlgorithm, ...]] = {
    name: tuple(map(SignAlgorithm, algorithms_for(name, Purpose.SIGN))) for name in _ASYMMETRIC
}
ENCRYPT_ALGORITHMS: dict[str, tuple[EncryptAlgorithm, ...]] = {
    name: tuple(map(EncryptAlgorithm, algorithms))
    for name in _ASYMMETRIC
    if (algorithms := algorithms_for(name, Purpose.ENCRYPT))
}
# Wrapping a data key for export (GenerateAndExportDataKey / ExportDataKey).
WRAPPING_ALGORITHMS: dict[str, tuple[EncryptAlgorithm, ...]] = {
    name: tuple(map(EncryptAlgorithm, algorithms_for(name, Purpose.EXPORT))) for name in WRAPPING_KEY_SPECS
}


def _require_usage(spec: SpecInfo, usage: KeyUsage, wanted: KeyUsage) -> None:
    if spec.symmetric:
        raise errors.UnsupportedOperation("This operation needs an asymmetric key.")
    if usage is not wanted:
        raise errors.UnsupportedOperation(f"This operation needs a key whose KeyUsage is {wanted}.")


def _check_algorithm(spec: SpecInfo, name: str, allowed: tuple[str, ...], does: str) -> None:
    if name not in allowed:
        raise errors.InvalidParameter("Algorithm", f"KeySpec {spec.name} {does} with {', '.join(allowed)}.")


def sign_algorithm(spec: SpecInfo, usage: KeyUsage, name: str) -> SignAlgorithm:
    _require_usage(spec, usage, KeyUsage.SIGN_VERIFY)
    _check_algorithm(spec, name, SIGN_ALGORITHMS[spec.name], "signs")
    return SignAlgorithm(name)


def encrypt_algorithm(spec: SpecInfo, usage: KeyUsage, name: str) -> EncryptAlgorithm:
    _require_usage(spec, usage, KeyUsage.ENCRYPT_DECRYPT)
    _check_algorithm(spec, name, ENCRYPT_ALGORITHMS[spec.name], "encrypts")
    return EncryptAlgorithm(name)


def check_digest(algorithm: SignAlgorithm, digest: bytes) -> bytes:
    expected = digest_bytes(algorithm)
    if len(digest) != expected:
        raise errors.InvalidParameter("Digest", f"The digest must be {expected} bytes (base64-encoded).")
    return digest


def check_plaintext(spec_name: str, algorithm: EncryptAlgorithm, plaintext: bytes) -> bytes:
    limit = max_plaintext(spec_name, algorithm)
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
