"""Objects that carry plaintext or data keys keep them out of their repr, which is what lands in
debug output, assertion messages and logged tracebacks."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from openkms.domain.specs import KeyUsage
from openkms.protocol.request import build_request
from openkms.service.keys import CreateKeyRequest
from tests.inproc import Inproc, inproc_runtime

SECRET = "TOP-SECRET-PLAINTEXT"


@pytest.fixture(scope="module")
def rt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inproc]:
    with inproc_runtime(tmp_path_factory.mktemp("reprs") / "data") as runtime:
        yield runtime


def test_decrypted_plaintext_is_not_in_the_repr(rt: Inproc) -> None:
    s = rt.runtime.services
    key = s.keys.create_key(rt.caller, CreateKeyRequest())
    blob = s.crypto.encrypt(rt.caller, key.id, SECRET.encode(), {}).blob
    decrypted = s.crypto.decrypt(rt.caller, blob, {})
    assert decrypted.plaintext == SECRET.encode()
    assert SECRET not in repr(decrypted)


def test_a_data_key_is_not_in_the_repr(rt: Inproc) -> None:
    s = rt.runtime.services
    key = s.keys.create_key(rt.caller, CreateKeyRequest())
    made = s.crypto.generate_data_key(rt.caller, key.id, 32, {})
    assert made.plaintext_b64
    assert made.plaintext_b64 not in repr(made)
    assert made.plaintext_b64[:12] not in repr(made)


def test_an_asymmetric_plaintext_is_not_in_the_repr(rt: Inproc) -> None:
    s = rt.runtime.services
    key = s.keys.create_key(rt.caller, CreateKeyRequest(spec="RSA_2048", usage=KeyUsage.ENCRYPT_DECRYPT))
    version = key.primary_version_id or ""
    ciphertext = s.asymmetric.encrypt(rt.caller, key.id, version, "RSAES_OAEP_SHA_256", SECRET.encode()).value
    decrypted = s.asymmetric.decrypt(rt.caller, key.id, version, "RSAES_OAEP_SHA_256", ciphertext)
    assert decrypted.value == SECRET.encode()
    assert SECRET not in repr(decrypted)
    assert repr(SECRET.encode()) not in repr(decrypted)


def test_requests_and_responses_keep_their_payload_out_of_the_repr(rt: Inproc) -> None:
    s = rt.runtime.services
    key = s.keys.create_key(rt.caller, CreateKeyRequest())
    blob = base64.b64encode(s.crypto.encrypt(rt.caller, key.id, SECRET.encode(), {}).blob).decode()
    resp = rt.request("Decrypt", {"CiphertextBlob": blob})
    assert SECRET.encode() in resp.body
    assert SECRET not in repr(resp)
    req = build_request(
        "POST", "/", f"Plaintext={SECRET}".encode(), [(b"content-type", b"application/x-www-form-urlencoded")],
        f"Plaintext={SECRET}".encode(),
    )  # fmt: skip
    assert req.params["Plaintext"] == SECRET
    assert SECRET not in repr(req)
