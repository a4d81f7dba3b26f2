"""The algorithm catalogue (domain/algorithms.py) and the views other modules take of it."""

from __future__ import annotations

import pytest

from openkms.domain import asymmetric, errors, importing
from openkms.domain.algorithms import (
    ALGORITHMS,
    WRAPPING_KEY_SPECS,
    EncryptAlgorithm,
    Purpose,
    SignAlgorithm,
    max_plaintext,
)
from openkms.domain.specs import SPECS


def test_the_enums_name_exactly_the_rows_of_their_purpose() -> None:
    def named(*purposes: Purpose) -> set[str]:
        return {a.name for a in ALGORITHMS.values() if a.purposes & set(purposes)}

    assert set(SignAlgorithm) == named(Purpose.SIGN)
    assert set(EncryptAlgorithm) == named(Purpose.ENCRYPT, Purpose.EXPORT)


def test_every_row_has_a_family_some_spec_has_and_what_its_purposes_need() -> None:
    families = {spec.family for spec in SPECS.values() if not spec.symmetric}
    for algorithm in ALGORITHMS.values():
        assert algorithm.family in families, algorithm.name
        assert (Purpose.SIGN in algorithm.purposes) == (algorithm.digest_bytes > 0), algorithm.name
        if Purpose.SIGN not in algorithm.purposes:
            assert algorithm.padding_bytes or algorithm.plaintext_bytes, algorithm.name
    assert all(not SPECS[spec].symmetric for spec in WRAPPING_KEY_SPECS)


def test_the_views_are_the_api_tables() -> None:
    rsa_sign = (SignAlgorithm.RSA_PSS_SHA_256, SignAlgorithm.RSA_PKCS1_SHA_256)
    rsa_encrypt = (EncryptAlgorithm.RSAES_OAEP_SHA_256, EncryptAlgorithm.RSAES_OAEP_SHA_1)
    assert {
        "RSA_2048": rsa_sign,
        "RSA_3072": rsa_sign,
        "EC_P256": (SignAlgorithm.ECDSA_SHA_256,),
        "EC_P256K": (SignAlgorithm.ECDSA_SHA_256,),
        "EC_SM2": (SignAlgorithm.SM2DSA,),
    } == asymmetric.SIGN_ALGORITHMS
    assert {
        "RSA_2048": rsa_encrypt,
        "RSA_3072": rsa_encrypt,
        "EC_SM2": (EncryptAlgorithm.SM2PKE,),
    } == asymmetric.ENCRYPT_ALGORITHMS
    assert {"RSA_2048": rsa_encrypt, "EC_SM2": (EncryptAlgorithm.SM2PKE,)} == asymmetric.WRAPPING_ALGORITHMS
    assert importing.WRAPPING == {
        "RSA_2048": ("RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"),
        "EC_SM2": ("SM2PKE",),
    }


@pytest.mark.parametrize(
    ("spec", "algorithm", "limit"),
    [
        ("RSA_2048", "RSAES_OAEP_SHA_256", 190),
        ("RSA_2048", "RSAES_OAEP_SHA_1", 214),
        ("RSA_3072", "RSAES_OAEP_SHA_256", 318),
        ("RSA_3072", "RSAES_OAEP_SHA_1", 342),
        ("EC_SM2", "SM2PKE", 6047),
    ],
)
def test_plaintext_limits(spec: str, algorithm: str, limit: int) -> None:
    assert max_plaintext(spec, algorithm) == limit
    assert asymmetric.check_plaintext(spec, EncryptAlgorithm(algorithm), b"x" * limit)
    with pytest.raises(errors.InvalidParameter, match=f"encrypts 1 to {limit} bytes"):
        asymmetric.check_plaintext(spec, EncryptAlgorithm(algorithm), b"x" * (limit + 1))


@pytest.mark.parametrize("algorithm", list(SignAlgorithm))
def test_every_signature_takes_a_32_byte_digest(algorithm: SignAlgorithm) -> None:
    assert asymmetric.check_digest(algorithm, b"d" * 32)
    with pytest.raises(errors.InvalidParameter, match="The digest must be 32 bytes"):
        asymmetric.check_digest(algorithm, b"d" * 20)


def test_wrapping_checks() -> None:
    importing.check_wrapping("RSA_2048", "RSAES_PKCS1_V1_5", False)
    with pytest.raises(errors.InvalidParameter, match="EC_SM2 wrapping keys are offered only in mainland China"):
        importing.check_wrapping("EC_SM2", "SM2PKE", False)
    with pytest.raises(errors.InvalidParameter, match="WrappingKeySpec RSA_2048 wraps with RSAES_OAEP_SHA_256, "):
        importing.check_wrapping("RSA_2048", "SM2PKE", True)
    with pytest.raises(errors.InvalidParameter, match=r"Valid values: RSA_2048, EC_SM2\."):
        importing.check_wrapping("RSA_3072", "RSAES_OAEP_SHA_1", True)
