"""The algorithm catalogue: every asymmetric algorithm the API names, one row each — what it is
for, which key specs allow it, and its size limits.

An algorithm works with every key spec of its family (``SpecInfo.family`` in ``specs.py``). The
tables of allowed algorithms elsewhere (``asymmetric.py``, ``importing.py``) are views of these
rows, and ``crypto/algorithms.py`` holds, row for row, how each one is computed. Adding an
algorithm is its row here, its name in ``SignAlgorithm`` or ``EncryptAlgorithm`` when it signs or
encrypts (the types the ports take), and its row there; the catalogue tests
(``tests/unit/crypto/test_catalogue.py``) check that these agree and run the algorithm through
every backend that claims it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from openkms.domain.specs import SPECS, KeyFamily, SpecInfo


class SignAlgorithm(StrEnum):
    RSA_PSS_SHA_256 = "RSA_PSS_SHA_256"
    RSA_PKCS1_SHA_256 = "RSA_PKCS1_SHA_256"
    ECDSA_SHA_256 = "ECDSA_SHA_256"
    SM2DSA = "SM2DSA"


class EncryptAlgorithm(StrEnum):
    RSAES_OAEP_SHA_256 = "RSAES_OAEP_SHA_256"
    RSAES_OAEP_SHA_1 = "RSAES_OAEP_SHA_1"
    SM2PKE = "SM2PKE"


class Purpose(StrEnum):
    SIGN = "SIGN"  # AsymmetricSign / AsymmetricVerify, over a digest the caller computed
    ENCRYPT = "ENCRYPT"  # AsymmetricEncrypt / AsymmetricDecrypt
    EXPORT = "EXPORT"  # a data key under a caller's public key (GenerateAndExportDataKey, ExportDataKey)
    IMPORT = "IMPORT"  # key material under an import wrapping key (GetParametersForImport)


@dataclass(frozen=True, slots=True)
class AlgorithmInfo:
    name: str
    family: KeyFamily
    purposes: frozenset[Purpose]
    digest_bytes: int = 0  # SIGN: the length of the digest it signs (never hashed again)
    padding_bytes: int = 0  # RSA encryption: what the padding takes from the modulus (OAEP: 2 hLen + 2)
    plaintext_bytes: int = 0  # a limit whatever the key's size (SM2PKE, as the API documents)

    def allows(self, spec: SpecInfo) -> bool:
        return spec.family is self.family

    def max_plaintext(self, spec: SpecInfo) -> int:
        return self.plaintext_bytes or spec.key_bits // 8 - self.padding_bytes


_SIGN = frozenset({Purpose.SIGN})
_WRAPS = frozenset({Purpose.ENCRYPT, Purpose.EXPORT, Purpose.IMPORT})
_SHA256_BYTES, _SHA1_BYTES = 32, 20

ALGORITHMS: dict[str, AlgorithmInfo] = {
    a.name: a
    for a in (
        AlgorithmInfo("RSA_PSS_SHA_256", KeyFamily.RSA, _SIGN, digest_bytes=_SHA256_BYTES),
        AlgorithmInfo("RSA_PKCS1_SHA_256", KeyFamily.RSA, _SIGN, digest_bytes=_SHA256_BYTES),
        AlgorithmInfo("ECDSA_SHA_256", KeyFamily.EC, _SIGN, digest_bytes=_SHA256_BYTES),
        AlgorithmInfo("SM2DSA", KeyFamily.SM2, _SIGN, digest_bytes=32),  # SM3(Z_A || M)
        AlgorithmInfo("RSAES_OAEP_SHA_256", KeyFamily.RSA, _WRAPS, padding_bytes=2 * _SHA256_BYTES + 2),
        AlgorithmInfo("RSAES_OAEP_SHA_1", KeyFamily.RSA, _WRAPS, padding_bytes=2 * _SHA1_BYTES + 2),
        # Import only: its decryption cannot fail safely, so material is checked after it (importing.py).
        AlgorithmInfo("RSAES_PKCS1_V1_5", KeyFamily.RSA, frozenset({Purpose.IMPORT}), padding_bytes=11),
        AlgorithmInfo("SM2PKE", KeyFamily.SM2, _WRAPS, plaintext_bytes=6047),
    )
}

# The WrappingKeySpec values: the specs whose public keys wrap data keys (export) and material (import).
WRAPPING_KEY_SPECS = ("RSA_2048", "EC_SM2")


def named(purpose: Purpose) -> tuple[str, ...]:
    """Every algorithm that serves ``purpose``, in catalogue order (e.g. the wrapping algorithms)."""
    return tuple(a.name for a in ALGORITHMS.values() if purpose in a.purposes)


def algorithms_for(spec_name: str, purpose: Purpose) -> tuple[str, ...]:
    """The algorithms a key of ``spec_name`` can use for ``purpose``, in catalogue order."""
    spec = SPECS[spec_name]
    if spec.symmetric or (purpose in (Purpose.EXPORT, Purpose.IMPORT) and spec_name not in WRAPPING_KEY_SPECS):
        return ()
    return tuple(a.name for a in ALGORITHMS.values() if purpose in a.purposes and a.allows(spec))


def wrapping_spec(algorithm: str) -> str:
    """The WrappingKeySpec whose keys wrap with ``algorithm`` (the first, if several do)."""
    return next(spec for spec in WRAPPING_KEY_SPECS if algorithm in algorithms_for(spec, Purpose.IMPORT))


def digest_bytes(algorithm: SignAlgorithm) -> int:
    return ALGORITHMS[algorithm].digest_bytes


def max_plaintext(spec_name: str, algorithm: str) -> int:
    """The most bytes ``algorithm`` encrypts under a key of ``spec_name``."""
    return ALGORITHMS[algorithm].max_plaintext(SPECS[spec_name])


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a crypto backend cannot do, each with the reason; it does the rest of the catalogue.

    Known without reaching the backend's token: a key store that is unreachable still says what it
    would offer (CreateKey's checks and the console's choices read it).
    """

    specs: Mapping[str, str] = field(default_factory=dict)  # key specs it cannot keep
    wrapping_specs: Mapping[str, str] = field(default_factory=dict)  # WrappingKeySpecs it cannot unwrap with
    wrapping_algorithms: Mapping[str, str] = field(default_factory=dict)  # wrapping algorithms it cannot unwrap
