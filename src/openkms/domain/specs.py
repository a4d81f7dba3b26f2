"""Key specs, usages, origins and protection levels, and which combinations each allows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openkms.domain import errors


class KeyUsage(StrEnum):
    ENCRYPT_DECRYPT = "ENCRYPT/DECRYPT"
    SIGN_VERIFY = "SIGN/VERIFY"


class Origin(StrEnum):
    ALIYUN_KMS = "Aliyun_KMS"
    EXTERNAL = "EXTERNAL"


class ProtectionLevel(StrEnum):
    SOFTWARE = "SOFTWARE"
    HSM = "HSM"


class Cipher(StrEnum):
    """The symmetric AEAD a spec's material is used with."""

    AES_GCM = "AES-GCM"
    SM4_GCM = "SM4-GCM"


class KeyFamily(StrEnum):
    """The kind of key pair an asymmetric spec is: an algorithm works with every spec of its family
    (``domain/algorithms.py``)."""

    RSA = "RSA"
    EC = "EC"
    SM2 = "SM2"


@dataclass(frozen=True, slots=True)
class SpecInfo:
    name: str
    symmetric: bool
    usages: tuple[KeyUsage, ...]
    mainland_only: bool
    material_bytes: int = 0
    cipher: Cipher | None = None
    family: KeyFamily | None = None  # asymmetric specs only
    key_bits: int = 0  # asymmetric specs: the size of the modulus (RSA) or of the curve's field (EC, SM2)

    @property
    def default_usage(self) -> KeyUsage:
        # The SDK model: SIGN/VERIFY when the spec can sign, else ENCRYPT/DECRYPT.
        if KeyUsage.SIGN_VERIFY in self.usages:
            return KeyUsage.SIGN_VERIFY
        return KeyUsage.ENCRYPT_DECRYPT


_ED = (KeyUsage.ENCRYPT_DECRYPT,)
_SV = (KeyUsage.SIGN_VERIFY,)
_BOTH = (KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY)

SPECS: dict[str, SpecInfo] = {
    s.name: s
    for s in (
        SpecInfo("Aliyun_AES_256", True, _ED, False, 32, Cipher.AES_GCM),
        SpecInfo("Aliyun_AES_128", True, _ED, False, 16, Cipher.AES_GCM),
        SpecInfo("Aliyun_AES_192", True, _ED, False, 24, Cipher.AES_GCM),
        SpecInfo("Aliyun_SM4", True, _ED, True, 16, Cipher.SM4_GCM),
        SpecInfo("RSA_2048", False, _BOTH, False, family=KeyFamily.RSA, key_bits=2048),
        SpecInfo("RSA_3072", False, _BOTH, False, family=KeyFamily.RSA, key_bits=3072),
        SpecInfo("EC_P256", False, _SV, False, family=KeyFamily.EC, key_bits=256),
        SpecInfo("EC_P256K", False, _SV, False, family=KeyFamily.EC, key_bits=256),
        SpecInfo("EC_SM2", False, _BOTH, True, family=KeyFamily.SM2, key_bits=256),
    )
}

# What CreateKey makes when a parameter is left out (the API's defaults, and the console's
# preselected choices). The usage's default depends on the spec: ``SpecInfo.default_usage``.
DEFAULT_SPEC = "Aliyun_AES_256"
DEFAULT_ORIGIN = Origin.ALIYUN_KMS
DEFAULT_PROTECTION_LEVEL = ProtectionLevel.SOFTWARE


def spec_info(name: str) -> SpecInfo:
    try:
        return SPECS[name]
    except KeyError:
        raise errors.InvalidParameter("KeySpec", f"Valid values: {', '.join(SPECS)}.") from None


def parse_usage(value: str) -> KeyUsage:
    try:
        return KeyUsage(value)
    except ValueError:
        raise errors.InvalidParameter("KeyUsage", "Valid values: ENCRYPT/DECRYPT, SIGN/VERIFY.") from None


def parse_origin(value: str) -> Origin:
    try:
        return Origin(value)
    except ValueError:
        raise errors.InvalidParameter("Origin", "Valid values: Aliyun_KMS, EXTERNAL.") from None


def parse_protection_level(value: str) -> ProtectionLevel:
    try:
        return ProtectionLevel(value)
    except ValueError:
        raise errors.InvalidParameter("ProtectionLevel", "Valid values: SOFTWARE, HSM.") from None


def check_usage(spec: SpecInfo, usage: KeyUsage) -> None:
    if usage not in spec.usages:
        allowed = ", ".join(spec.usages)
        raise errors.InvalidParameter("KeyUsage", f"KeySpec {spec.name} allows only {allowed}.")
