"""Every gateway operation, signed properly with a client key so that it runs, with random field
values (keys and blobs that exist, odd ones, none): the answer is never a 500, always a protobuf
``Error`` naming a code, or a success carrying x-kms-migrationkeyversionid.

Seeded and small: a few hundred requests through ``GatewayHandler.handle``, in-process.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from openkms.domain.app_access import KEY_USER, SECRET_USER
from openkms.domain.instances import DEFAULT_INSTANCE
from openkms.domain.specs import KeyUsage
from openkms.protocol.gateway.app import GatewayHandler
from openkms.protocol.gateway.messages import MESSAGES, new, parse
from openkms.protocol.gateway.operations import OPERATIONS
from openkms.service.app_access import PolicyFields
from openkms.service.keys import CreateKeyRequest
from openkms.service.secrets import CreateSecretRequest
from tests.inproc import inproc_runtime

SEED = 20260120
REQUESTS_PER_OPERATION = 25


@dataclass
class Env:
    handler: GatewayHandler
    key_id: str
    private: rsa.RSAPrivateKey
    now: float
    refs: dict[str, list[Any]]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with inproc_runtime(Path(tmp_path_factory.mktemp("gateway-fuzz")) / "data") as rt:
        s, caller = rt.runtime.services, rt.caller
        aes = s.keys.create_key(caller, CreateKeyRequest()).id
        signer = s.keys.create_key(caller, CreateKeyRequest(spec="EC_P256", usage=KeyUsage.SIGN_VERIFY)).id
        s.secrets.create_secret(caller, CreateSecretRequest("db", "v1", "pw", key_ref=aes))
        s.app_access.create_policy(
            caller, "use", DEFAULT_INSTANCE, PolicyFields("", (KEY_USER, SECRET_USER), ("key/*", "secret/*"))
        )
        s.app_access.create_access_point(caller, "app", "ClientKey", ("use",), "")
        issued = s.app_access.create_client_key(caller, "app", "fuzz-password", 0, 4_000_000_000)
        private, _, _ = pkcs12.load_key_and_certificates(issued.private_key_data, b"fuzz-password")
        assert isinstance(private, rsa.RSAPrivateKey)
        blob = s.crypto.encrypt(caller, aes, b"x", {}).blob
        refs = {
            "string": [aes, signer, "db", "alias/none", "", "x" * 300, "RSA_2048", "EC_P256", "PEM", "DER", "RAW",
                       "DIGEST", "AES_GCM", "RSAES_OAEP_SHA_256", "ECDSA_SHA_256", "SM2PKE", "\u00e9\u4e2d"],
            "bytes": [b"", b"$\x00\x02" + blob, blob, b"$\x00\x02", hashlib.sha256(b"m").digest(), bytes(range(256)),
                      b"\x00" * 5000],
            "int32": [0, 1, 32, 1024, 1025, -1, 2**31 - 1],
            "bool": [True, False],
        }  # fmt: skip
        handler = GatewayHandler(s, s.gateway, rt.auth_clock, 256 * 1024)
        yield Env(handler, issued.key.id, private, rt.auth_clock.now(), refs)


def _post(env: Env, operation: str, body: bytes) -> tuple[int, bytes, str | None]:
    headers = {
        "content-type": "application/x-protobuf", "content-sha256": hashlib.sha256(body).hexdigest().upper(),
        "date": email.utils.formatdate(env.now, usegmt=True), "x-kms-apiversion": "dkms-gcs-0.2",
        "x-kms-apiname": operation, "x-kms-signaturemethod": "RSA_PKCS1_SHA_256", "x-kms-acccesskeyid": env.key_id,
    }  # fmt: skip
    signed = "".join(f"{k}:{headers[k]}\n" for k in sorted(h for h in headers if h.startswith("x-kms-")))
    text = f"POST\n{headers['content-sha256']}\n{headers['content-type']}\n{headers['date']}\n{signed}/"
    headers["authorization"] = (
        "Bearer " + base64.b64encode(env.private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    )
    answer = env.handler.handle([(k.encode(), v.encode()) for k, v in headers.items()], body, "127.0.0.1", False)
    return answer.status, answer.body, answer.key_version_id


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_random_fields_never_fail_the_gateway(env: Env, operation: str) -> None:
    rng = random.Random(f"{SEED}:{operation}")
    message_name = OPERATIONS[operation][0]
    for _ in range(REQUESTS_PER_OPERATION):
        fields: dict[str, Any] = {}
        for name, _number, kind in MESSAGES[message_name]:
            if rng.random() < 0.75:
                value = rng.choice(env.refs[kind.removesuffix("[]")])
                fields[name] = [value] if kind.endswith("[]") else value
        status, body, version = _post(env, operation, new(message_name, **fields).SerializeToString())
        if status == 200:
            assert version is not None, (operation, fields)
            continue
        error = parse("Error", body)
        assert status < 500, (operation, fields, error.ErrorCode, error.ErrorMessage)
        assert (error.StatusCode, bool(error.ErrorCode), bool(error.RequestId)) == (status, True, True)


def test_bodies_that_are_not_protobuf_are_refused(env: Env) -> None:
    for body in (b"\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x12\x05ab", b"\x0a\x02\xc3\x28"):
        status, answer, _ = _post(env, "AdvanceEncrypt", body)
        assert (status, parse("Error", answer).ErrorCode) == (400, "InvalidParameter"), body
