"""The algorithm catalogue, enumerated: the domain's rows (domain/algorithms.py, domain/specs.py)
and the crypto rows (crypto/algorithms.py) name the same algorithms, key specs and ciphers, and
every row works in every backend that claims it — the software backend, and the PKCS#11 backend
(SoftHSM2) for what its ``capabilities()`` does not exclude.

Nothing here names an algorithm to test: a row added to the catalogue is tested by this file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from openkms.cli.importing import wrap
from openkms.crypto import asymmetric
from openkms.crypto.algorithms import AEADS, CIPHERS, KEY_TYPES, SIGNATURES
from openkms.crypto.pkcs11 import Pkcs11Backend
from openkms.crypto.public import SoftwarePublicKeyCrypto
from openkms.crypto.sealing import AesGcmSealer, new_root_key
from openkms.crypto.software import SoftwareBackend
from openkms.domain import errors
from openkms.domain.algorithms import (
    ALGORITHMS,
    WRAPPING_KEY_SPECS,
    EncryptAlgorithm,
    Purpose,
    SignAlgorithm,
    algorithms_for,
    digest_bytes,
    max_plaintext,
)
from openkms.domain.errors import UnsupportedOperation
from openkms.domain.importing import ImportToken
from openkms.domain.keys import KeyVersion
from openkms.domain.ports import CryptoBackend
from openkms.domain.specs import SPECS, Cipher, KeyUsage
from tests.hsm_support import SOFTHSM_AVAILABLE, SOFTHSM_REASON, shared_token

PUBLIC = SoftwarePublicKeyCrypto()
ASYMMETRIC = [name for name, spec in SPECS.items() if not spec.symmetric]
SYMMETRIC = [name for name, spec in SPECS.items() if spec.symmetric]
# What SoftHSM2 has a mechanism for but does not implement: the token refuses it when asked.
SOFTHSM_REFUSES = {"RSAES_OAEP_SHA_256"}


def cases(purpose: Purpose, specs: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    return [(spec, algorithm) for spec in specs for algorithm in algorithms_for(spec, purpose)]


# --- the two halves agree --------------------------------------------------------------------------


def test_every_algorithm_the_domain_allows_has_a_crypto_row_and_back() -> None:
    signs = {a.name for a in ALGORITHMS.values() if Purpose.SIGN in a.purposes}
    encrypts = {a.name for a in ALGORITHMS.values() if a.purposes & {Purpose.ENCRYPT, Purpose.EXPORT, Purpose.IMPORT}}
    assert set(SIGNATURES) == signs
    assert set(CIPHERS) == encrypts
    assert signs | encrypts == set(ALGORITHMS)


def test_every_key_spec_and_cipher_has_a_crypto_row_and_back() -> None:
    assert set(KEY_TYPES) == set(ASYMMETRIC)
    assert set(AEADS) == set(Cipher) == {SPECS[name].cipher for name in SYMMETRIC}


def test_every_asymmetric_spec_allows_some_algorithm_for_each_of_its_usages() -> None:
    for name in ASYMMETRIC:
        spec = SPECS[name]
        assert (KeyUsage.SIGN_VERIFY in spec.usages) == bool(algorithms_for(name, Purpose.SIGN)), name
        assert (KeyUsage.ENCRYPT_DECRYPT in spec.usages) == bool(algorithms_for(name, Purpose.ENCRYPT)), name
    for name in WRAPPING_KEY_SPECS:
        assert algorithms_for(name, Purpose.EXPORT), name
        assert algorithms_for(name, Purpose.IMPORT), name


@pytest.mark.parametrize("spec_name", ASYMMETRIC)
def test_every_key_type_makes_keys_it_recognises(spec_name: str) -> None:
    key_type = KEY_TYPES[spec_name]
    if key_type.unavailable():
        pytest.skip(key_type.unavailable() or "")
    private_der, public_der = key_type.generate()
    public = key_type.load_public(public_der)
    assert key_type.matches(public)
    assert asymmetric.key_matches_spec(spec_name, public)
    assert key_type.load_private(private_der) is not None
    for other in ASYMMETRIC:
        if SPECS[other].family is not SPECS[spec_name].family:
            assert not KEY_TYPES[other].of_kind(public), other


# --- every backend that claims a row can use it ----------------------------------------------------


@dataclass
class Subject:
    name: str
    backend: CryptoBackend
    refuses: frozenset[str]  # algorithms the token refuses when asked (not declared up front)
    made: list[bytes] = field(default_factory=list)
    _versions: dict[str, KeyVersion] = field(default_factory=dict)

    def keeps(self, spec_name: str) -> bool:
        """Whether it claims the spec; if not, it must refuse to make one."""
        if spec_name not in self.backend.capabilities().specs:
            return True
        with pytest.raises(errors.UnsupportedKeySpec):
            self.version(spec_name)
        return False

    def version(self, spec_name: str) -> KeyVersion:
        """One version of the spec per backend (made on first use)."""
        if spec_name not in self._versions:
            spec, version_id = SPECS[spec_name], str(uuid.uuid4())
            if spec.symmetric:
                version = KeyVersion(version_id, "key", 0, self.backend.create_symmetric(spec, version_id))
            else:
                ref, public_key = self.backend.create_asymmetric(spec, version_id)
                version = KeyVersion(version_id, "key", 0, ref, public_key)
            self.made.append(version.material_ref)
            self._versions[spec_name] = version
        return self._versions[spec_name]


@pytest.fixture(
    scope="module",
    params=["software", pytest.param("pkcs11", marks=pytest.mark.skipif(not SOFTHSM_AVAILABLE, reason=SOFTHSM_REASON))],
)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "software":
        made = Subject("software", SoftwareBackend(AesGcmSealer(new_root_key()), pool_size=0), frozenset())
    else:
        made = Subject("pkcs11", Pkcs11Backend(shared_token()), frozenset(SOFTHSM_REFUSES))
    yield made
    for ref in made.made:
        made.backend.discard(ref)
    made.backend.close()


@pytest.mark.parametrize("spec_name", SYMMETRIC)
def test_symmetric_round_trip(subject: Subject, spec_name: str) -> None:
    if not subject.keeps(spec_name):
        return
    spec, version = SPECS[spec_name], subject.version(spec_name)
    message = subject.backend.encrypt(spec, version, b"aad", b"catalogue")
    assert subject.backend.decrypt(spec, version, b"aad", *message) == b"catalogue"


@pytest.mark.parametrize(("spec_name", "algorithm"), cases(Purpose.SIGN, ASYMMETRIC))
def test_sign_and_verify(subject: Subject, spec_name: str, algorithm: str) -> None:
    if not subject.keeps(spec_name):
        return
    alg, version = SignAlgorithm(algorithm), subject.version(spec_name)
    digest = hashlib.sha256(b"catalogue").digest()[: digest_bytes(alg)]
    signature = subject.backend.sign(SPECS[spec_name], version, alg, digest)
    assert version.public_key is not None
    assert PUBLIC.verify(spec_name, version.public_key, alg, digest, signature)
    assert not PUBLIC.verify(spec_name, version.public_key, alg, bytes(len(digest)), signature)


@pytest.mark.parametrize(("spec_name", "algorithm"), cases(Purpose.ENCRYPT, ASYMMETRIC))
def test_encrypt_and_decrypt_at_the_plaintext_limit(subject: Subject, spec_name: str, algorithm: str) -> None:
    if not subject.keeps(spec_name):
        return
    alg, version = EncryptAlgorithm(algorithm), subject.version(spec_name)
    plaintext = os.urandom(max_plaintext(spec_name, alg))
    assert version.public_key is not None
    ciphertext = PUBLIC.encrypt(spec_name, version.public_key, alg, plaintext)
    if algorithm in subject.refuses:
        with pytest.raises(errors.UnsupportedOperation, match=algorithm):
            subject.backend.decrypt_asymmetric(SPECS[spec_name], version, alg, ciphertext)
        return
    assert subject.backend.decrypt_asymmetric(SPECS[spec_name], version, alg, ciphertext) == plaintext


@pytest.mark.parametrize(("spec_name", "algorithm"), cases(Purpose.EXPORT, WRAPPING_KEY_SPECS))
def test_export_wraps_a_data_key_under_a_callers_public_key(spec_name: str, algorithm: str) -> None:
    key_type = KEY_TYPES[spec_name]
    if key_type.unavailable():
        pytest.skip(key_type.unavailable() or "")
    private_der, public_der = key_type.generate()
    data_key = os.urandom(32)
    alg = EncryptAlgorithm(algorithm)
    exported = PUBLIC.encrypt(spec_name, PUBLIC.parse_public_key(spec_name, public_der, "PublicKeyBlob"), alg, data_key)
    assert asymmetric.decrypt(key_type.load_private(private_der), alg, exported) == data_key


@pytest.mark.parametrize(("spec_name", "algorithm"), cases(Purpose.IMPORT, WRAPPING_KEY_SPECS))
def test_import_unwraps_material_wrapped_by_the_command_line(subject: Subject, spec_name: str, algorithm: str) -> None:
    capabilities, token_id = subject.backend.capabilities(), str(uuid.uuid4())
    if spec_name in capabilities.wrapping_specs:
        with pytest.raises(errors.UnsupportedKeySpec, match=spec_name):
            subject.backend.create_wrapping_key(spec_name, algorithm, token_id)
        return
    if algorithm in capabilities.wrapping_algorithms:
        with pytest.raises(errors.UnsupportedOperation, match=algorithm):
            subject.backend.create_wrapping_key(spec_name, algorithm, token_id)
        return
    if KEY_TYPES[spec_name].unavailable():
        pytest.skip(KEY_TYPES[spec_name].unavailable() or "")
    private_ref, public_key = subject.backend.create_wrapping_key(spec_name, algorithm, token_id)
    subject.made.append(private_ref)
    token = ImportToken(token_id, "key", spec_name, algorithm, private_ref, public_key, 0, 86400)
    spec, version_id, material = SPECS["Aliyun_AES_256"], str(uuid.uuid4()), os.urandom(32)
    ref, _ = subject.backend.import_material(spec, version_id, token, wrap(public_key, material, algorithm))
    subject.made.append(ref)
    version = KeyVersion(version_id, "key", 0, ref)
    assert subject.backend.decrypt(spec, version, b"", *subject.backend.encrypt(spec, version, b"", b"mine")) == b"mine"


def test_an_sm2_key_is_never_read_from_a_token() -> None:
    with pytest.raises(UnsupportedOperation):
        KEY_TYPES["EC_SM2"].from_token({})
