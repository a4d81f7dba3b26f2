"""The CryptoBackend port's contract, run against every backend: software and PKCS#11 (SoftHSM2).

A backend either does an operation correctly or refuses it with a clear domain error
(UnsupportedKeySpec / UnsupportedOperation) that the backend declares up front below; it never
answers wrongly and never lets a foreign exception through.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from openkms.crypto.pkcs11 import Pkcs11Backend
from openkms.crypto.public import SoftwarePublicKeyCrypto
from openkms.crypto.sealing import AesGcmSealer, new_root_key
from openkms.crypto.software import SoftwareBackend
from openkms.domain import errors
from openkms.domain.asymmetric import ENCRYPT_ALGORITHMS, SIGN_ALGORITHMS, EncryptAlgorithm, SignAlgorithm
from openkms.domain.ciphertext import NONCE_LEN, SALT_LEN, TAG_LEN
from openkms.domain.importing import WRAPPING, ImportToken
from openkms.domain.keys import KeyVersion
from openkms.domain.ports import CryptoBackend
from openkms.domain.specs import SPECS, SpecInfo
from tests.hsm_support import SOFTHSM_AVAILABLE, SOFTHSM_REASON, shared_token

AES_SPECS = ("Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_AES_192")
ASYMMETRIC = ("RSA_2048", "RSA_3072", "EC_P256", "EC_P256K")
PUBLIC = SoftwarePublicKeyCrypto()


@dataclass
class Subject:
    name: str
    backend: CryptoBackend
    unsupported_specs: frozenset[str]
    unsupported_algorithms: frozenset[str]
    _versions: dict[str, tuple[KeyVersion, bytes]] = field(default_factory=dict)

    def version(self, spec_name: str, slot: int = 0) -> tuple[KeyVersion, bytes]:
        """A version of the spec (made once per module): (version, public key or b"")."""
        key = f"{spec_name}/{slot}"
        if key not in self._versions:
            self._versions[key] = make_version(self.backend, SPECS[spec_name])
        return self._versions[key]


def new_version_id() -> str:
    return str(uuid.uuid4())


def make_version(backend: CryptoBackend, spec: SpecInfo) -> tuple[KeyVersion, bytes]:
    version_id = new_version_id()
    if spec.symmetric:
        return KeyVersion(version_id, "key", 0, backend.create_symmetric(spec, version_id)), b""
    ref, public_key = backend.create_asymmetric(spec, version_id)
    return KeyVersion(version_id, "key", 0, ref, public_key), public_key


@pytest.fixture(
    scope="module",
    params=["software", pytest.param("pkcs11", marks=pytest.mark.skipif(not SOFTHSM_AVAILABLE, reason=SOFTHSM_REASON))],
)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "software":
        backend: SoftwareBackend | Pkcs11Backend = SoftwareBackend(AesGcmSealer(new_root_key()), pool_size=0)
        yield Subject("software", backend, frozenset(), frozenset())
    else:
        backend = Pkcs11Backend(shared_token())
        yield Subject(
            "pkcs11",
            backend,
            frozenset({"Aliyun_SM4", "EC_SM2"}),
            frozenset({"RSAES_OAEP_SHA_256"}),
        )
    backend.close()


def supported(subject: Subject, spec_name: str) -> bool:
    """False, after asserting the backend refuses the spec up front, when it does not offer it."""
    if spec_name in subject.unsupported_specs:
        with pytest.raises(errors.UnsupportedKeySpec):
            make_version(subject.backend, SPECS[spec_name])
        return False
    return True


# --- symmetric -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec_name", [*AES_SPECS, "Aliyun_SM4"])
@pytest.mark.parametrize("size", [0, 1, 4096])
def test_encrypt_round_trip_with_the_blob_fields(subject: Subject, spec_name: str, size: int) -> None:
    if not supported(subject, spec_name):
        return
    version, _ = subject.version(spec_name)
    spec = SPECS[spec_name]
    plaintext, aad = os.urandom(size), b"header|" + os.urandom(8)
    salt, nonce, sealed = subject.backend.encrypt(spec, version, aad, plaintext)
    assert (len(salt), len(nonce), len(sealed)) == (SALT_LEN, NONCE_LEN, size + TAG_LEN)
    if size >= 16:  # a shorter plaintext may occur in random bytes by chance
        assert plaintext not in sealed
    assert subject.backend.decrypt(spec, version, aad, salt, nonce, sealed) == plaintext


def test_every_message_gets_a_fresh_salt_and_nonce(subject: Subject) -> None:
    version, _ = subject.version("Aliyun_AES_256")
    spec = SPECS["Aliyun_AES_256"]
    blobs = [subject.backend.encrypt(spec, version, b"aad", b"same plaintext") for _ in range(5)]
    assert len({salt for salt, _, _ in blobs}) == 5
    assert len({nonce for _, nonce, _ in blobs}) == 5
    assert len({sealed for _, _, sealed in blobs}) == 5


@pytest.mark.parametrize("part", ["salt", "nonce", "ciphertext", "tag", "aad"])
def test_any_tampering_is_invalid_ciphertext(subject: Subject, part: str) -> None:
    version, _ = subject.version("Aliyun_AES_256")
    spec = SPECS["Aliyun_AES_256"]
    salt, nonce, sealed = subject.backend.encrypt(spec, version, b"context", b"attack at dawn")
    aad = b"context"

    def flip(data: bytes, index: int) -> bytes:
        return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]

    if part == "salt":
        salt = flip(salt, 3)
    elif part == "nonce":
        nonce = flip(nonce, 0)
    elif part == "ciphertext":
        sealed = flip(sealed, 2)
    elif part == "tag":
        sealed = flip(sealed, len(sealed) - 1)
    else:
        aad = b"contexT"
    with pytest.raises(errors.InvalidCiphertext):
        subject.backend.decrypt(spec, version, aad, salt, nonce, sealed)
    # the backend keeps serving after a refused blob
    assert (
        subject.backend.decrypt(spec, version, b"context", *subject.backend.encrypt(spec, version, b"context", b"x"))
        == b"x"
    )


def test_another_version_cannot_decrypt(subject: Subject) -> None:
    spec = SPECS["Aliyun_AES_256"]
    first, _ = subject.version("Aliyun_AES_256")
    second, _ = subject.version("Aliyun_AES_256", slot=1)
    assert first.material_ref != second.material_ref
    salt, nonce, sealed = subject.backend.encrypt(spec, first, b"", b"secret")
    with pytest.raises(errors.InvalidCiphertext):
        subject.backend.decrypt(spec, second, b"", salt, nonce, sealed)


def test_random_bytes(subject: Subject) -> None:
    values = {subject.backend.random_bytes(32) for _ in range(4)}
    assert len(values) == 4
    assert all(len(v) == 32 for v in values)
    assert len(subject.backend.random_bytes(1)) == 1
    assert len(subject.backend.random_bytes(1024)) == 1024


# --- asymmetric ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec_name", [*ASYMMETRIC, "EC_SM2"])
def test_public_key_is_the_spki_of_the_spec(subject: Subject, spec_name: str) -> None:
    if not supported(subject, spec_name):
        return
    _, public_key = subject.version(spec_name)
    assert PUBLIC.parse_public_key(spec_name, public_key, "PublicKey") == public_key
    if spec_name == "EC_SM2":  # the SM2 curve is outside cryptography: parse_public_key checked it
        return
    key = serialization.load_der_public_key(public_key)
    if spec_name.startswith("RSA"):
        assert isinstance(key, rsa.RSAPublicKey)
        assert key.key_size == int(spec_name[4:])
        assert key.public_numbers().e == 65537
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        assert key.curve.name == {"EC_P256": "secp256r1", "EC_P256K": "secp256k1"}[spec_name]


def test_sm2_signs_and_decrypts(subject: Subject) -> None:
    if not supported(subject, "EC_SM2"):
        return
    version, public_key = subject.version("EC_SM2")
    spec, digest = SPECS["EC_SM2"], hashlib.sha256(b"sm2 message").digest()
    signature = subject.backend.sign(spec, version, SignAlgorithm.SM2DSA, digest)
    assert PUBLIC.verify("EC_SM2", public_key, SignAlgorithm.SM2DSA, digest, signature)
    assert not PUBLIC.verify("EC_SM2", public_key, SignAlgorithm.SM2DSA, hashlib.sha256(b"other").digest(), signature)
    ciphertext = PUBLIC.encrypt("EC_SM2", public_key, EncryptAlgorithm.SM2PKE, b"sm2 plaintext")
    assert subject.backend.decrypt_asymmetric(spec, version, EncryptAlgorithm.SM2PKE, ciphertext) == b"sm2 plaintext"


SIGN_CASES = [(spec, alg) for spec in ASYMMETRIC for alg in SIGN_ALGORITHMS[spec]]


@pytest.mark.parametrize(("spec_name", "algorithm"), SIGN_CASES)
def test_signatures_verify_with_only_the_public_key(subject: Subject, spec_name: str, algorithm: SignAlgorithm) -> None:
    version, public_key = subject.version(spec_name)
    digest = hashlib.sha256(os.urandom(16)).digest()
    signature = subject.backend.sign(SPECS[spec_name], version, algorithm, digest)
    key = serialization.load_der_public_key(public_key)
    prehashed = utils.Prehashed(hashes.SHA256())
    if algorithm is SignAlgorithm.ECDSA_SHA_256:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, digest, ec.ECDSA(prehashed))  # DER, as cryptography and openssl expect
    elif algorithm is SignAlgorithm.RSA_PSS_SHA_256:
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(signature, digest, padding.PSS(padding.MGF1(hashes.SHA256()), 32), prehashed)
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(signature, digest, padding.PKCS1v15(), prehashed)
    other = hashlib.sha256(b"another message").digest()
    assert not PUBLIC.verify(spec_name, public_key, algorithm, other, signature)


@pytest.mark.parametrize("spec_name", ["RSA_2048", "RSA_3072"])
@pytest.mark.parametrize("algorithm", list(ENCRYPT_ALGORITHMS["RSA_2048"]))
def test_rsa_decryption(subject: Subject, spec_name: str, algorithm: EncryptAlgorithm) -> None:
    version, public_key = subject.version(spec_name)
    plaintext = os.urandom(64)
    ciphertext = PUBLIC.encrypt(spec_name, public_key, algorithm, plaintext)
    spec = SPECS[spec_name]
    if algorithm in subject.unsupported_algorithms:
        with pytest.raises(errors.UnsupportedOperation, match=str(algorithm)):
            subject.backend.decrypt_asymmetric(spec, version, algorithm, ciphertext)
        return
    assert subject.backend.decrypt_asymmetric(spec, version, algorithm, ciphertext) == plaintext
    with pytest.raises(errors.InvalidParameter):
        subject.backend.decrypt_asymmetric(spec, version, algorithm, ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]))
    with pytest.raises(errors.InvalidParameter):
        subject.backend.decrypt_asymmetric(spec, version, algorithm, b"\x00" * 10)


# --- import ----------------------------------------------------------------------------------------


def wrap(public_key: bytes, algorithm: str, material: bytes) -> bytes:
    key = serialization.load_der_public_key(public_key)
    assert isinstance(key, rsa.RSAPublicKey)
    if algorithm == "RSAES_PKCS1_V1_5":
        return key.encrypt(material, padding.PKCS1v15())
    h: hashes.HashAlgorithm = hashes.SHA256() if algorithm == "RSAES_OAEP_SHA_256" else hashes.SHA1()
    return key.encrypt(material, padding.OAEP(padding.MGF1(h), h, None))


def import_token(backend: CryptoBackend, algorithm: str, create_with: str | None = None) -> ImportToken:
    token_id = new_version_id()
    private_ref, public_key = backend.create_wrapping_key("RSA_2048", create_with or algorithm, token_id)
    return ImportToken(token_id, "key", "RSA_2048", algorithm, private_ref, public_key, 0, 86400)


@pytest.fixture(scope="module")
def tokens(subject: Subject) -> dict[str, ImportToken]:
    # An algorithm the backend refuses up front still gets a token (made for another algorithm),
    # so that the import itself is shown to refuse it too.
    return {
        algorithm: import_token(
            subject.backend, algorithm, "RSAES_OAEP_SHA_1" if algorithm in subject.unsupported_algorithms else None
        )
        for algorithm in WRAPPING["RSA_2048"]
    }


@pytest.mark.parametrize("algorithm", WRAPPING["RSA_2048"])
def test_wrapping_keys_are_refused_up_front_for_algorithms_the_backend_cannot_unwrap(
    subject: Subject, algorithm: str
) -> None:
    if algorithm in subject.unsupported_algorithms:
        with pytest.raises(errors.UnsupportedOperation, match=algorithm):
            subject.backend.create_wrapping_key("RSA_2048", algorithm, new_version_id())
    else:
        _, public_key = subject.backend.create_wrapping_key("RSA_2048", algorithm, new_version_id())
        assert public_key


@pytest.mark.parametrize("algorithm", WRAPPING["RSA_2048"])
def test_import_unwraps_material_that_then_encrypts(
    subject: Subject, tokens: dict[str, ImportToken], algorithm: str
) -> None:
    spec = SPECS["Aliyun_AES_256"]
    token = tokens[algorithm]
    material = os.urandom(32)
    wrapped = wrap(token.public_key, algorithm, material)
    version_id = new_version_id()
    if algorithm in subject.unsupported_algorithms:
        with pytest.raises(errors.UnsupportedOperation, match=algorithm):
            subject.backend.import_material(spec, version_id, token, wrapped)
        return
    ref, fingerprint = subject.backend.import_material(spec, version_id, token, wrapped)
    assert material not in ref
    assert len(fingerprint) >= 16
    assert material not in fingerprint
    version = KeyVersion(version_id, "key", 0, ref)
    salt, nonce, sealed = subject.backend.encrypt(spec, version, b"aad", b"imported")
    assert subject.backend.decrypt(spec, version, b"aad", salt, nonce, sealed) == b"imported"

    # The same material, imported again (another version, another wrapping): the same fingerprint,
    # and the two versions decrypt each other's blobs. Other material: another fingerprint.
    version_id2 = new_version_id()
    ref2, fingerprint2 = subject.backend.import_material(
        spec, version_id2, token, wrap(token.public_key, algorithm, material)
    )
    assert ref2 != ref
    assert fingerprint2 == fingerprint
    assert subject.backend.decrypt(spec, KeyVersion(version_id2, "key", 0, ref2), b"aad", salt, nonce, sealed) == (
        b"imported"
    )
    _, other = subject.backend.import_material(
        spec, new_version_id(), token, wrap(token.public_key, algorithm, os.urandom(32))
    )
    assert other != fingerprint


@pytest.mark.parametrize("spec_name", AES_SPECS)
def test_import_takes_material_of_the_spec_length_only(
    subject: Subject, tokens: dict[str, ImportToken], spec_name: str
) -> None:
    token = tokens["RSAES_OAEP_SHA_1"]
    spec = SPECS[spec_name]
    ref, _ = subject.backend.import_material(
        spec, new_version_id(), token, wrap(token.public_key, "RSAES_OAEP_SHA_1", os.urandom(spec.material_bytes))
    )
    assert ref
    for length in {16, 17, 24, 31, 32, 48} - {spec.material_bytes}:
        wrapped = wrap(token.public_key, "RSAES_OAEP_SHA_1", os.urandom(length))
        with pytest.raises(errors.InvalidKeyMaterial):
            subject.backend.import_material(spec, new_version_id(), token, wrapped)


def test_sm2_wrapped_import(subject: Subject) -> None:
    if subject.name == "pkcs11":
        with pytest.raises(errors.UnsupportedKeySpec, match="EC_SM2"):
            subject.backend.create_wrapping_key("EC_SM2", "SM2PKE", new_version_id())
        return
    token_id = new_version_id()
    private_ref, public_key = subject.backend.create_wrapping_key("EC_SM2", "SM2PKE", token_id)
    token = ImportToken(token_id, "key", "EC_SM2", "SM2PKE", private_ref, public_key, 0, 86400)
    material = os.urandom(16)
    wrapped = PUBLIC.encrypt("EC_SM2", public_key, EncryptAlgorithm.SM2PKE, material)
    version_id = new_version_id()
    ref, _ = subject.backend.import_material(SPECS["Aliyun_SM4"], version_id, token, wrapped)
    version = KeyVersion(version_id, "key", 0, ref)
    blob = subject.backend.encrypt(SPECS["Aliyun_SM4"], version, b"", b"sm4 under imported material")
    assert subject.backend.decrypt(SPECS["Aliyun_SM4"], version, b"", *blob) == b"sm4 under imported material"


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"])
def test_import_refuses_what_does_not_unwrap(subject: Subject, tokens: dict[str, ImportToken], algorithm: str) -> None:
    spec = SPECS["Aliyun_AES_256"]
    token = tokens[algorithm]
    garbage = [b"short", b"\x00" * 300]
    if algorithm == "RSAES_OAEP_SHA_1":
        # RSAES-PKCS1-v1_5 in software uses implicit rejection: a bad ciphertext may decrypt to
        # random bytes of the right length (the material binding then refuses them), so only OAEP
        # promises to refuse every malformed ciphertext.
        garbage += [os.urandom(256), b"\x00" * 256, wrap(token.public_key, "RSAES_PKCS1_V1_5", os.urandom(32))]
    for wrapped in garbage:
        with pytest.raises(errors.InvalidKeyMaterial):
            subject.backend.import_material(spec, new_version_id(), token, wrapped)
