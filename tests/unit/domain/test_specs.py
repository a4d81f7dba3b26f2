"""The key spec matrix of spec section 4.1: kind, usages, mainland-only, material size."""

from __future__ import annotations

import pytest

from openkms.domain import errors
from openkms.domain.specs import (
    DEFAULT_SPEC,
    SPECS,
    Cipher,
    KeyUsage,
    Origin,
    ProtectionLevel,
    check_usage,
    parse_origin,
    parse_protection_level,
    parse_usage,
    spec_info,
)

ED, SV = KeyUsage.ENCRYPT_DECRYPT, KeyUsage.SIGN_VERIFY

# spec 4.1: name -> (symmetric, ENCRYPT/DECRYPT allowed, SIGN/VERIFY allowed)
MATRIX = {
    "Aliyun_AES_256": (True, True, False),
    "Aliyun_AES_128": (True, True, False),
    "Aliyun_AES_192": (True, True, False),
    "Aliyun_SM4": (True, True, False),
    "RSA_2048": (False, True, True),
    "RSA_3072": (False, True, True),
    "EC_P256": (False, False, True),
    "EC_P256K": (False, False, True),
    "EC_SM2": (False, True, True),
}


def test_the_catalogue_is_the_spec_matrix() -> None:
    assert set(SPECS) == set(MATRIX)
    assert DEFAULT_SPEC == "Aliyun_AES_256"


@pytest.mark.parametrize(("name", "row"), MATRIX.items())
def test_spec_row(name: str, row: tuple[bool, bool, bool]) -> None:
    symmetric, ed, sv = row
    info = spec_info(name)
    assert info.symmetric is symmetric
    assert (ED in info.usages) is ed
    assert (SV in info.usages) is sv
    for usage, allowed in ((ED, ed), (SV, sv)):
        if allowed:
            check_usage(info, usage)
        else:
            with pytest.raises(errors.InvalidParameter) as err:
                check_usage(info, usage)
            assert err.value.name == "KeyUsage"


def test_material_sizes_and_ciphers() -> None:
    assert {n: (s.material_bytes, s.cipher) for n, s in SPECS.items() if s.symmetric} == {
        "Aliyun_AES_256": (32, Cipher.AES_GCM),
        "Aliyun_AES_128": (16, Cipher.AES_GCM),
        "Aliyun_AES_192": (24, Cipher.AES_GCM),
        "Aliyun_SM4": (16, Cipher.SM4_GCM),
    }


def test_mainland_only_specs() -> None:
    assert {n for n, s in SPECS.items() if s.mainland_only} == {"Aliyun_SM4", "EC_SM2"}


def test_default_usage() -> None:
    # The SDK model: SIGN/VERIFY when the spec can sign, else ENCRYPT/DECRYPT.
    assert spec_info("Aliyun_AES_256").default_usage is ED
    assert spec_info("RSA_2048").default_usage is SV
    assert spec_info("EC_P256").default_usage is SV
    assert spec_info("EC_SM2").default_usage is SV


def test_unknown_spec() -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        spec_info("AES_256")  # a data-key spec, not a key spec
    assert err.value.name == "KeySpec"


def test_enum_parsers_use_the_exact_wire_spelling() -> None:
    assert parse_usage("ENCRYPT/DECRYPT") is ED
    assert parse_usage("SIGN/VERIFY") is SV
    assert parse_origin("Aliyun_KMS") is Origin.ALIYUN_KMS
    assert parse_origin("EXTERNAL") is Origin.EXTERNAL
    assert parse_protection_level("SOFTWARE") is ProtectionLevel.SOFTWARE
    assert parse_protection_level("HSM") is ProtectionLevel.HSM
    for parse, bad, name in (
        (parse_usage, "encrypt/decrypt", "KeyUsage"),
        (parse_origin, "aliyun_kms", "Origin"),
        (parse_protection_level, "software", "ProtectionLevel"),
    ):
        with pytest.raises(errors.InvalidParameter) as err:
            parse(bad)
        assert err.value.name == name
