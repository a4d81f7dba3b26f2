"""The seed's pure parts: HKDF (checked against RFC 5869 and against pyca/cryptography's own),
version ids made from a key id, and the rules across entries."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openkms.domain.seed import (
    HKDF_SALT,
    Seed,
    SeedKey,
    SeedSecret,
    SeedSecretVersion,
    SeedVersion,
    check,
    derived_material,
    hkdf,
    version_id,
)


def test_hkdf_gives_rfc_5869s_first_test_case() -> None:
    okm = hkdf(bytes([0x0B] * 22), bytes(range(0xF0, 0xFA)), 42, salt=bytes(range(13)))
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


@pytest.mark.parametrize("length", [16, 24, 32, 33, 64, 100])
def test_hkdf_agrees_with_an_independent_implementation(length: int) -> None:
    theirs = HKDF(hashes.SHA256(), length, HKDF_SALT, b"key-1/version").derive(b"the seed")
    assert hkdf(b"the seed", b"key-1/version", length) == theirs
    assert derived_material("the seed", "key-1", "version", length) == theirs


def test_a_version_id_is_a_uuid_fixed_by_the_key_and_place() -> None:
    first = version_id("key-1", 0)
    assert str(uuid.UUID(first)) == first
    assert first == version_id("key-1", 0)
    assert len({first, version_id("key-1", 1), version_id("key-2", 0)}) == 3


def key(key_id: str, *versions: SeedVersion, spec: str = "Aliyun_AES_256") -> SeedKey:
    return SeedKey(
        key_id, "", "", spec, "ENCRYPT/DECRYPT", "Enabled", versions or (SeedVersion(version_id(key_id, 0)),)
    )


def test_a_seed_that_keeps_the_rules_has_no_problem() -> None:
    secret = SeedSecret("db", "", "", "k1", (SeedSecretVersion("v1", "x", ("ACSCurrent",)),))
    assert list(check(Seed(keys=(key("k1"),), secrets=(secret,)))) == []


def test_the_rules_across_entries() -> None:
    shared = SeedVersion("0b0e2f1c-6a55-4a8e-9d3f-5f1a2b3c4d01")
    seed = Seed(
        keys=(key("k1", shared), key("k2", shared), key("k3", spec="RSA_2048")),
        secrets=(
            SeedSecret("db", "", "", "k3", (SeedSecretVersion("v1", "x", ("ACSCurrent", "a")),
                                             SeedSecretVersion("v2", "y", ("a",)))),
        ),
    )  # fmt: skip
    found = {(p.path, p.reason) for p in check(seed)}
    assert found == {
        (("keys", 1, "versions", 0, "id"), "the version id 0b0e2f1c-6a55-4a8e-9d3f-5f1a2b3c4d01 is used twice"),
        (("secrets", 0, "key"), "the key 'k3' is not a symmetric ENCRYPT/DECRYPT key"),
        (("secrets", 0, "versions"), "a stage is on one version only"),
    }
