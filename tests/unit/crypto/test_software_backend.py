"""SoftwareBackend: material generated, sealed under the root key, never returned in clear; each
message under its own derived key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from openkms.crypto import symmetric
from openkms.crypto.sealing import AesGcmSealer
from openkms.crypto.software import SoftwareBackend, material_aad
from openkms.domain import ciphertext, errors
from openkms.domain.keys import KeyVersion
from openkms.domain.specs import SPECS, SpecInfo, spec_info

ROOT = bytes(range(32))
VERSION_ID = "86a9efd9-3d16-4894-bd4f-1fc43f3f2abf"
SYMMETRIC = [s for s in SPECS.values() if s.symmetric]


@pytest.fixture
def backend() -> Iterator[SoftwareBackend]:
    b = SoftwareBackend(AesGcmSealer(ROOT), pool_size=0)  # no RSA pool thread: symmetric only here
    yield b
    b.close()


def _version(backend: SoftwareBackend, spec: SpecInfo, version_id: str = VERSION_ID) -> KeyVersion:
    return KeyVersion(version_id, "key-id", 0, backend.create_symmetric(spec, version_id))


@pytest.mark.parametrize("spec", SYMMETRIC, ids=lambda s: s.name)
def test_material_is_sealed_never_clear(backend: SoftwareBackend, spec: SpecInfo) -> None:
    version = _version(backend, spec)
    material = AesGcmSealer(ROOT).unseal(version.material_ref, material_aad(VERSION_ID))
    assert len(material) == spec.material_bytes
    assert material not in version.material_ref
    assert len(version.material_ref) == 1 + 12 + spec.material_bytes + 16
    # Nothing the backend hands back contains the material.
    aad = ciphertext.associated_data(VERSION_ID, b"{}")
    salt, nonce, sealed = backend.encrypt(spec, version, aad, b"x" * 64)
    for out in (salt, nonce, sealed, backend.random_bytes(64)):
        assert material not in out
    assert not hasattr(backend, "material")


@pytest.mark.parametrize("spec", SYMMETRIC, ids=lambda s: s.name)
def test_encrypt_decrypt_round_trip(backend: SoftwareBackend, spec: SpecInfo) -> None:
    version = _version(backend, spec)
    aad = ciphertext.associated_data(VERSION_ID, b'{"a":"1"}')
    salt, nonce, sealed = backend.encrypt(spec, version, aad, b"hello")
    assert (len(salt), len(nonce), len(sealed)) == (16, 12, 5 + 16)
    assert backend.decrypt(spec, version, aad, salt, nonce, sealed) == b"hello"
    with pytest.raises(errors.InvalidCiphertext):
        backend.decrypt(spec, version, ciphertext.associated_data(VERSION_ID, b"{}"), salt, nonce, sealed)


def test_every_message_gets_its_own_key(backend: SoftwareBackend) -> None:
    spec = spec_info("Aliyun_AES_256")
    version = _version(backend, spec)
    material = AesGcmSealer(ROOT).unseal(version.material_ref, material_aad(VERSION_ID))
    aad = ciphertext.associated_data(VERSION_ID, b"{}")
    outs = [backend.encrypt(spec, version, aad, b"same input") for _ in range(50)]
    assert len({o[2] for o in outs}) == 50, "same input, different ciphertexts"
    assert len({o[0] for o in outs}) == 50, "a fresh salt per message"
    cipher = spec.cipher
    assert cipher is not None
    keys = {symmetric.derive_message_key(cipher, material, salt) for salt, _, _ in outs}
    assert len(keys) == 50, "a fresh derived key per message"
    assert material not in keys
    # The message is not encrypted under the version material itself.
    _, nonce, sealed = outs[0]
    with pytest.raises(errors.InvalidCiphertext):
        symmetric.aead_decrypt(cipher, material, nonce, sealed, aad)


def test_versions_have_independent_material(backend: SoftwareBackend) -> None:
    spec = spec_info("Aliyun_AES_256")
    v1 = _version(backend, spec)
    v2 = _version(backend, spec, "11111111-2222-4333-8444-555555555555")
    aad = ciphertext.associated_data(VERSION_ID, b"{}")
    salt, nonce, sealed = backend.encrypt(spec, v1, aad, b"data")
    with pytest.raises(errors.InvalidCiphertext):
        backend.decrypt(spec, v2, aad, salt, nonce, sealed)  # the same AAD, the other material


def test_material_moved_to_another_version_row_fails_integrity(backend: SoftwareBackend) -> None:
    spec = spec_info("Aliyun_AES_256")
    v1 = _version(backend, spec)
    moved = replace(v1, id="11111111-2222-4333-8444-555555555555")
    with pytest.raises(errors.IntegrityError):
        backend.encrypt(spec, moved, b"", b"data")


def test_material_of_the_wrong_size_for_the_spec_fails_integrity(backend: SoftwareBackend) -> None:
    v = _version(backend, spec_info("Aliyun_AES_128"))
    with pytest.raises(errors.IntegrityError):
        backend.encrypt(spec_info("Aliyun_AES_256"), v, b"", b"data")


def test_a_different_root_key_cannot_use_the_material() -> None:
    spec = spec_info("Aliyun_SM4")
    b1 = SoftwareBackend(AesGcmSealer(ROOT), pool_size=0)
    b2 = SoftwareBackend(AesGcmSealer(bytes(32)), pool_size=0)
    version = _version(b1, spec)
    with pytest.raises(errors.IntegrityError):
        b2.encrypt(spec, version, b"", b"data")


def test_random_bytes(backend: SoftwareBackend) -> None:
    assert len(backend.random_bytes(32)) == 32
    assert backend.random_bytes(32) != backend.random_bytes(32)
