"""Bring your own key: wrapping parameters, import tokens, material binding and expiry rules."""

from __future__ import annotations

from dataclasses import dataclass

from openkms.domain import errors
from openkms.domain.algorithms import WRAPPING_KEY_SPECS, Purpose, algorithms_for
from openkms.domain.specs import SPECS

TOKEN_LIFETIME_SECONDS = 24 * 3600

# WrappingKeySpec -> the wrapping algorithms GetParametersForImport offers for it (a view of the
# catalogue in domain/algorithms.py).
WRAPPING: dict[str, tuple[str, ...]] = {spec: algorithms_for(spec, Purpose.IMPORT) for spec in WRAPPING_KEY_SPECS}
UNWRAP_FAILED = "The material does not unwrap to a key of this key spec with the import token's key."


@dataclass(frozen=True, slots=True)
class ImportToken:
    """A wrapping key pair issued for one key. The private half is sealed; the token names it."""

    id: str
    key_id: str
    wrapping_spec: str
    wrapping_algorithm: str
    sealed_private_key: bytes
    public_key: bytes
    created_at: int
    expires_at: int


def check_wrapping(spec: str, algorithm: str, mainland_china: bool) -> None:
    if spec not in WRAPPING:
        raise errors.InvalidParameter("WrappingKeySpec", f"Valid values: {', '.join(WRAPPING)}.")
    if algorithm not in WRAPPING[spec]:
        raise errors.InvalidParameter(
            "WrappingAlgorithm", f"WrappingKeySpec {spec} wraps with {', '.join(WRAPPING[spec])}."
        )
    if SPECS[spec].mainland_only and not mainland_china:
        raise errors.InvalidParameter(
            "WrappingKeySpec", f"{spec} wrapping keys are offered only in mainland China regions."
        )


def check_expiry(expire_unix: int | None, now: int) -> int | None:
    """KeyMaterialExpireUnix: absent or 0 = never; a time in the past is refused."""
    if not expire_unix:
        return None
    if expire_unix <= now:
        raise errors.InvalidParameter("KeyMaterialExpireUnix", "The expiry time must lie in the future.")
    return expire_unix


def check_material_length(material: bytes, expected: int) -> bytes:
    # With RSAES-PKCS1-v1_5 a bad ciphertext decrypts to random bytes (implicit rejection), so
    # the length is the first line of defence; the material binding below is the second.
    if len(material) != expected:
        # The same message as an unwrapping failure: the two must not be told apart (no oracle).
        raise errors.InvalidKeyMaterial(UNWRAP_FAILED)
    return material
