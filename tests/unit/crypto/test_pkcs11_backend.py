"""The PKCS#11 backend on SoftHSM2: what lives in the token, how it is derived, and how failures
of the token, its sessions and its login are repaired or reported."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openkms.crypto import pkcs11 as hsm
from openkms.crypto import pkcs11_keys as hsm_keys
from openkms.crypto import softhsm
from openkms.crypto.pkcs11_module import TokenConfig, with_module
from openkms.crypto.pkcs11_session import TokenSessions, open_token, release
from openkms.domain import errors
from openkms.domain.asymmetric import SignAlgorithm
from openkms.domain.importing import ImportToken
from openkms.domain.keys import KeyVersion
from openkms.domain.specs import SPECS
from tests.hsm_support import requires_softhsm, shared_token

pytestmark = requires_softhsm
AES_256 = SPECS["Aliyun_AES_256"]


@pytest.fixture(scope="module")
def backend() -> Iterator[hsm.Pkcs11Backend]:
    b = hsm.Pkcs11Backend(shared_token())
    yield b
    b.close()


@pytest.fixture(scope="module")
def token() -> Iterator[TokenSessions]:
    """An independent look into the token."""
    pool = open_token(shared_token())
    yield pool
    release(pool)


@pytest.fixture(scope="module")
def import_token(backend: hsm.Pkcs11Backend) -> ImportToken:
    token_id = str(uuid.uuid4())
    ref, public_key = backend.create_wrapping_key("RSA_2048", "RSAES_OAEP_SHA_1", token_id)
    return ImportToken(token_id, "key", "RSA_2048", "RSAES_OAEP_SHA_1", ref, public_key, 0, 1)


def p11() -> Any:
    import pkcs11

    return pkcs11


def attributes(
    token: TokenSessions, object_id: bytes, names: list[str], object_class: Any = None
) -> list[dict[str, Any]]:
    a = p11().Attribute
    template = {a.ID: object_id} if object_class is None else {a.ID: object_id, a.CLASS: object_class}
    with token.session() as s:
        found = list(s.session.get_objects(template))
        return [{name: obj[getattr(a, name)] for name in names} | {"CLASS": obj[a.CLASS]} for obj in found]


def session_objects(token: TokenSessions) -> int:
    with token.session() as s:
        return len(list(s.session.get_objects({p11().Attribute.TOKEN: False})))


def wrap_oaep_sha1(public_key: bytes, material: bytes) -> bytes:
    key = serialization.load_der_public_key(public_key)
    assert isinstance(key, rsa.RSAPublicKey)
    return key.encrypt(material, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))


def imported(backend: hsm.Pkcs11Backend, import_token: ImportToken, material: bytes) -> tuple[KeyVersion, bytes]:
    version_id = str(uuid.uuid4())
    spec = {16: SPECS["Aliyun_AES_128"], 24: SPECS["Aliyun_AES_192"], 32: AES_256}[len(material)]
    ref, fingerprint = backend.import_material(
        spec, version_id, import_token, wrap_oaep_sha1(import_token.public_key, material)
    )
    return KeyVersion(version_id, "key", 0, ref), fingerprint


# --- what the token holds --------------------------------------------------------------------------

SECURE = ["TOKEN", "PRIVATE", "SENSITIVE", "EXTRACTABLE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "LABEL"]


def test_a_symmetric_version_is_a_derive_only_non_extractable_token_object(
    backend: hsm.Pkcs11Backend, token: TokenSessions
) -> None:
    version_id = str(uuid.uuid4())
    ref = backend.create_symmetric(AES_256, version_id)
    # the stored reference is the object's name and nothing else: no key bytes can hide in it
    assert ref == b"pkcs11:v1:openkms:" + version_id.encode()
    [found] = attributes(token, hsm_keys.object_id(ref), [*SECURE, "VALUE_LEN", "DERIVE", "ENCRYPT", "DECRYPT", "WRAP"])
    assert found == {
        "CLASS": p11().ObjectClass.SECRET_KEY,
        "TOKEN": True,
        "PRIVATE": True,
        "SENSITIVE": True,
        "EXTRACTABLE": False,
        "ALWAYS_SENSITIVE": True,
        "NEVER_EXTRACTABLE": True,
        "LABEL": "openkms:" + version_id,
        "VALUE_LEN": 32,
        "DERIVE": True,
        "ENCRYPT": False,
        "DECRYPT": False,
        "WRAP": False,
    }
    with token.session() as s:
        key = s.find(hsm_keys.object_id(ref), p11().ObjectClass.SECRET_KEY)
        with pytest.raises(p11().AttributeSensitive):
            _ = key[p11().Attribute.VALUE]


@pytest.mark.parametrize("spec_name", ["RSA_2048", "EC_P256K"])
def test_an_asymmetric_version_is_a_non_extractable_key_pair(
    backend: hsm.Pkcs11Backend, token: TokenSessions, spec_name: str
) -> None:
    version_id = str(uuid.uuid4())
    ref, public_key = backend.create_asymmetric(SPECS[spec_name], version_id)
    assert ref == b"pkcs11:v1:openkms:" + version_id.encode()
    found = {obj["CLASS"]: obj for obj in attributes(token, hsm_keys.object_id(ref), ["TOKEN", "PRIVATE", "LABEL"])}
    private = p11().ObjectClass.PRIVATE_KEY
    assert set(found) == {private, p11().ObjectClass.PUBLIC_KEY}
    [secure] = attributes(token, hsm_keys.object_id(ref), SECURE, private)
    assert secure["SENSITIVE"]
    assert not secure["EXTRACTABLE"]
    assert secure["NEVER_EXTRACTABLE"]
    assert secure["PRIVATE"]
    assert secure["LABEL"] == "openkms:" + version_id
    assert serialization.load_der_public_key(public_key)


def test_imported_material_lands_in_a_non_extractable_object(
    backend: hsm.Pkcs11Backend, token: TokenSessions, import_token: ImportToken
) -> None:
    material = os.urandom(32)
    version, _ = imported(backend, import_token, material)
    assert material not in version.material_ref
    assert version.material_ref.startswith(b"pkcs11:v1:openkms:" + version.id.encode() + b":import:")
    [found] = attributes(
        token, hsm_keys.object_id(version.material_ref), ["TOKEN", "SENSITIVE", "EXTRACTABLE", "DERIVE", "ENCRYPT"]
    )
    assert found["TOKEN"]
    assert found["SENSITIVE"]
    assert not found["EXTRACTABLE"]
    assert found["DERIVE"]
    assert not found["ENCRYPT"]


# --- derivation, as documented --------------------------------------------------------------------


def aes_ecb(key: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


@pytest.mark.parametrize("length", [16, 24, 32])
def test_each_message_is_encrypted_under_its_own_derived_key(
    backend: hsm.Pkcs11Backend, import_token: ImportToken, length: int
) -> None:
    """With known (imported) material, the documented KDF reproduces every message key."""
    material = os.urandom(length)
    version, _ = imported(backend, import_token, material)
    spec = {16: SPECS["Aliyun_AES_128"], 24: SPECS["Aliyun_AES_192"], 32: AES_256}[length]
    keys = set()
    for _ in range(3):
        salt, nonce, sealed = backend.encrypt(spec, version, b"aad", b"plaintext")
        message_key = aes_ecb(material, hsm_keys.message_key_input(salt))[:length]
        assert AESGCM(message_key).decrypt(nonce, sealed, b"aad") == b"plaintext"
        keys.add(message_key)
        # and not under the version key itself
        with pytest.raises(InvalidTag):
            AESGCM(material).decrypt(nonce, sealed, b"aad")
    assert len(keys) == 3


def test_the_fingerprint_is_the_documented_key_check_value(
    backend: hsm.Pkcs11Backend, import_token: ImportToken
) -> None:
    material = os.urandom(32)
    _, fingerprint = imported(backend, import_token, material)
    check_key = aes_ecb(material, hsm_keys.FINGERPRINT_KEY_INPUT)
    assert fingerprint == aes_ecb(check_key, hsm_keys.FINGERPRINT_BLOCKS)
    assert material not in fingerprint


def test_no_session_object_outlives_an_operation(
    backend: hsm.Pkcs11Backend, token: TokenSessions, import_token: ImportToken
) -> None:
    version = KeyVersion("v", "k", 0, backend.create_symmetric(AES_256, str(uuid.uuid4())))
    before = session_objects(token)
    salt, nonce, sealed = backend.encrypt(AES_256, version, b"", b"data")
    backend.decrypt(AES_256, version, b"", salt, nonce, sealed)
    with pytest.raises(errors.InvalidCiphertext):
        backend.decrypt(AES_256, version, b"other", salt, nonce, sealed)
    imported(backend, import_token, os.urandom(32))
    for wrong_length in (24, 31):
        wrapped = wrap_oaep_sha1(import_token.public_key, os.urandom(wrong_length))
        with pytest.raises(errors.InvalidKeyMaterial):
            backend.import_material(AES_256, str(uuid.uuid4()), import_token, wrapped)
    assert session_objects(token) == before


# --- refusals and errors ---------------------------------------------------------------------------


def test_specs_without_mechanisms_are_refused_clearly(backend: hsm.Pkcs11Backend) -> None:
    with pytest.raises(errors.UnsupportedKeySpec, match=r"Aliyun_SM4.*SOFTWARE"):
        backend.create_symmetric(SPECS["Aliyun_SM4"], str(uuid.uuid4()))
    with pytest.raises(errors.UnsupportedKeySpec, match="EC_SM2"):
        backend.create_asymmetric(SPECS["EC_SM2"], str(uuid.uuid4()))
    with pytest.raises(errors.UnsupportedKeySpec, match="EC_SM2"):
        backend.create_wrapping_key("EC_SM2", "SM2PKE", str(uuid.uuid4()))


def test_pkcs1_garbage_is_refused_by_the_token(backend: hsm.Pkcs11Backend, import_token: ImportToken) -> None:
    token = replace(import_token, wrapping_algorithm="RSAES_PKCS1_V1_5")
    for wrapped in (os.urandom(256), b"\x00" * 256):
        with pytest.raises(errors.InvalidKeyMaterial) as caught:
            backend.import_material(AES_256, str(uuid.uuid4()), token, wrapped)
        assert caught.value.message.endswith(hsm.IMPORT_FAILED)  # one answer, whatever failed


def test_a_malformed_reference_is_an_integrity_error(backend: hsm.Pkcs11Backend) -> None:
    for ref in (b"\x01sealed-software-material", b"pkcs11:v1:"):
        with pytest.raises(errors.IntegrityError):
            backend.encrypt(AES_256, KeyVersion("v", "k", 0, ref), b"", b"x")


def test_a_reference_to_a_missing_object_is_unavailable_not_an_integrity_error(backend: hsm.Pkcs11Backend) -> None:
    """The row is intact; the object was removed outside openkms (a token backup can bring it
    back): the caller gets a 503 that names the version, never a 500."""
    ref = b"pkcs11:v1:openkms:no-such-object"
    with pytest.raises(errors.KeyObjectMissing) as caught:
        backend.encrypt(AES_256, KeyVersion("v-gone", "k", 0, ref), b"", b"x")
    assert isinstance(caught.value, errors.BackendUnavailable)
    assert "key version v-gone" in caught.value.message


def test_destroy_removes_the_objects(backend: hsm.Pkcs11Backend, token: TokenSessions) -> None:
    version_id = str(uuid.uuid4())
    ref, _ = backend.create_asymmetric(SPECS["EC_P256"], version_id)
    version = KeyVersion(version_id, "k", 0, ref)
    backend.sign(SPECS["EC_P256"], version, SignAlgorithm.ECDSA_SHA_256, b"\x01" * 32)  # cached handle
    assert backend.destroy(ref) == 2
    assert attributes(token, hsm_keys.object_id(ref), []) == []
    with pytest.raises(errors.KeyObjectMissing):
        backend.sign(SPECS["EC_P256"], version, SignAlgorithm.ECDSA_SHA_256, b"\x01" * 32)


def ssl_library() -> str:
    import _ssl

    return _ssl.__file__


def test_an_unreachable_module_or_token_is_backend_unavailable(backend: hsm.Pkcs11Backend) -> None:
    config = shared_token()
    with pytest.raises(errors.BackendUnavailable, match="does not exist"):
        hsm.Pkcs11Backend(replace(config, module_path="/nonexistent/libpkcs11.so"))
    with pytest.raises(errors.BackendUnavailable, match="cannot be loaded"):
        hsm.Pkcs11Backend(replace(config, module_path=__file__))  # a file, but no shared library
    with pytest.raises(errors.BackendUnavailable, match="cannot be loaded"):
        hsm.Pkcs11Backend(replace(config, module_path=ssl_library()))  # a library, but not PKCS#11
    with pytest.raises(errors.BackendUnavailable, match="not present"):
        hsm.Pkcs11Backend(replace(config, token_label="no-such-token"))
    with pytest.raises(errors.BackendUnavailable, match="another PIN") as caught:  # the token is open (backend)
        hsm.Pkcs11Backend(replace(config, pin="not-the-pin-42"))
    assert "not-the-pin-42" not in str(caught.value)


@pytest.fixture(scope="module")
def second_token() -> TokenConfig:
    """Another token in the same SoftHSM2 directory, not logged in by anything else."""
    config = shared_token()
    label = "openkms-second"
    pins = {"user": "second-user-pin-7", "so": "second-so-pin-7"}

    def create(lib: Any) -> None:
        if not any(t.label == label for t in lib.get_tokens()):
            softhsm._initialise(lib, config.module_path, label, pins)

    with_module(config, create)
    return replace(config, token_label=label, pin=pins["user"])


def test_a_wrong_pin_is_backend_unavailable_without_the_pin(second_token: TokenConfig) -> None:
    with pytest.raises(errors.BackendUnavailable, match="Login") as caught:
        hsm.Pkcs11Backend(replace(second_token, pin="wrong-pin-1234"))
    assert "wrong-pin-1234" not in str(caught.value)
    assert second_token.pin not in str(caught.value)
    assert "wrong-pin-1234" not in repr(replace(second_token, pin="wrong-pin-1234"))
    working = hsm.Pkcs11Backend(second_token)
    assert len(working.random_bytes(8)) == 8
    working.close()


def test_users_of_a_token_share_one_login_and_closing_one_keeps_the_other(second_token: TokenConfig) -> None:
    first, second = hsm.Pkcs11Backend(second_token), hsm.Pkcs11Backend(second_token)
    version_id = str(uuid.uuid4())
    version = KeyVersion(version_id, "k", 0, first.create_symmetric(AES_256, version_id))
    first.close()
    blob = second.encrypt(AES_256, version, b"", b"still logged in")
    assert second.decrypt(AES_256, version, b"", *blob) == b"still logged in"
    second.close()


def test_a_lost_login_is_repaired(second_token: TokenConfig, caplog: pytest.LogCaptureFixture) -> None:
    backend = hsm.Pkcs11Backend(second_token)
    version_id = str(uuid.uuid4())
    version = KeyVersion(version_id, "k", 0, backend.create_symmetric(AES_256, version_id))
    # Someone logs the application out (python-pkcs11 does so when a PIN session closes).
    backend._tokens._holders[0].close()
    with caplog.at_level("WARNING", "openkms.crypto.pkcs11"):
        blob = backend.encrypt(AES_256, version, b"", b"after logout")
    assert "lost its login" in caplog.text
    assert second_token.pin not in caplog.text
    assert backend.decrypt(AES_256, version, b"", *blob) == b"after logout"
    backend.close()


def test_a_lost_session_is_replaced(backend: hsm.Pkcs11Backend) -> None:
    version_id = str(uuid.uuid4())
    version = KeyVersion(version_id, "k", 0, backend.create_symmetric(AES_256, version_id))
    with backend._tokens.session() as pooled:
        pooled.session.close()  # behind the pool's back; opened without a PIN, so no logout
    assert pooled in backend._tokens._idle
    blob = backend.encrypt(AES_256, version, b"", b"new session")
    assert backend.decrypt(AES_256, version, b"", *blob) == b"new session"
    assert pooled not in backend._tokens._idle


def test_a_forked_child_opens_its_own_sessions(backend: hsm.Pkcs11Backend) -> None:
    """PKCS#11 state does not survive fork: an inherited backend refuses clearly, and a backend
    opened in the child initialises the module anew, without disturbing the parent."""
    version_id = str(uuid.uuid4())
    version = KeyVersion(version_id, "k", 0, backend.create_symmetric(AES_256, version_id))
    blob = backend.encrypt(AES_256, version, b"", b"from the parent")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        outcome = []
        try:
            backend.encrypt(AES_256, version, b"", b"x")
            outcome.append("inherited backend worked")
        except errors.BackendUnavailable as exc:
            outcome.append("refused" if "forked" in exc.message else exc.message)
        try:
            child = hsm.Pkcs11Backend(shared_token())
            outcome.append(child.decrypt(AES_256, version, b"", *blob).decode())
            child.close()
        except BaseException as exc:
            outcome.append(repr(exc))
        os.write(write, "|".join(outcome).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    report = os.read(read, 4096).decode()
    os.close(read)
    assert status == 0
    assert report == "refused|from the parent"
    assert backend.decrypt(AES_256, version, b"", *backend.encrypt(AES_256, version, b"", b"still")) == b"still"
