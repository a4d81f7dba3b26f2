"""The instance gateway's tests: a server whose signature clock the test moves, accounts with an
application access point and a client key, and Alibaba's clients run through tests/e2e/gateway_driver.py
in the virtual environment of alibabacloud-kms-python-sdk (it brings alibabacloud-dkms-gcs; both pin
protobuf<3.20 and pyOpenSSL<23.3, older than openkms runs on, hence their own environment)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openkms.domain.app_access import KEY_USER, SECRET_USER
from openkms.domain.instances import DEFAULT_INSTANCE
from tests.e2e.clients import Kms
from tests.e2e.test_secret_manager_clients import KC, KC_VENV, _venv
from tests.servers import InProcessServer

DRIVER = Path(__file__).with_name("gateway_driver.py")
# alibabacloud-kms-python-sdk 1.1.3 requires alibabacloud-dkms-gcs without an upper bound: pinned here.
GCS = "alibabacloud-dkms-gcs==1.0.2"
PASSWORD = "client-key-pass-1"


def b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode()}


def unb64(value: dict[str, str]) -> bytes:
    return base64.b64decode(value["b64"])


@dataclass
class App:
    """An account with an access point ``app`` whose one policy grants ``permissions`` on
    ``resources``, from ``sources``, and a client key of it."""

    kms: Kms  # the account's own RPC client (root)
    key_file: str  # clientKey_<id>.json's text
    key_id: str


def provision(server: InProcessServer, resources: tuple[str, ...] = ("key/*", "secret/*"),
              sources: str | None = None, own_account: bool = False, **client_key: str) -> App:  # fmt: skip
    """``own_account``: in the server's administrator account (whose quotas a test can set), not a new one."""
    ak, secret = (server.access_key_id, server.secret) if own_account else server.new_account()[:2]
    kms = Kms("new-v3", server.endpoint, ak, secret)
    rules: dict[str, Any] = {}
    if sources is not None:
        kms.call("CreateNetworkRule", Name="net", Type="Private", SourcePrivateIp=sources)
        rules = {"AccessControlRules": json.dumps({"NetworkRules": ["net"]})}
    kms.call("CreatePolicy", Name="use", KmsInstance=DEFAULT_INSTANCE, Permissions=json.dumps([KEY_USER, SECRET_USER]),
             Resources=json.dumps(list(resources)), **rules)  # fmt: skip
    kms.call("CreateApplicationAccessPoint", Name="app", AuthenticationMethod="ClientKey", Policies='["use"]')
    made = kms.call("CreateClientKey", AapName="app", Password=PASSWORD, **client_key)
    key_file = json.dumps({"KeyId": made["ClientKeyId"], "PrivateKeyData": made["PrivateKeyData"]})
    return App(kms, key_file, made["ClientKeyId"])


def _gateway_clients() -> Path:
    """The Python of the clients' environment (made once, kept between runs), with dkms-gcs pinned."""
    python = _venv(KC_VENV, KC)
    marker = KC_VENV / f".installed-{GCS}"
    if not marker.exists():
        subprocess.run([str(python), "-m", "pip", "install", "-q", GCS], check=True, timeout=600)
        marker.touch()
    return python


def run_clients(server: InProcessServer, key_file: str, calls: list[list[Any]], **extra: Any) -> list[dict[str, Any]]:
    """Each call's answer: {"ok": ...} or {"error": {"code", "message", "status"}}."""
    python = _gateway_clients()
    job = {"endpoint": server.endpoint, "key_file": key_file, "password": PASSWORD, "calls": calls, **extra}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENKMS_")}
    run = subprocess.run([str(python), str(DRIVER)], input=json.dumps(job), capture_output=True, text=True,
                         timeout=300, check=False, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    results: list[dict[str, Any]] = json.loads(run.stdout)
    return results


def ok(result: dict[str, Any]) -> dict[str, Any]:
    assert "ok" in result, result
    answer: dict[str, Any] = result["ok"]
    return answer


def refusal(result: dict[str, Any]) -> tuple[int, str, str]:
    assert "error" in result, result
    error = result["error"]
    return error["status"], error["code"], error["message"]


def signed_post(server: InProcessServer, key_file: str, operation: str, body: bytes, sent: bytes | None = None,
                date: str | None = None, host: str | None = None,
                answer_headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    """A gateway request signed here as the SDK signs it (the string to sign of the spec, RSA
    PKCS#1 v1.5 SHA-256 with the client key), with ``sent`` as the body actually sent: what no SDK
    can be made to do. Returns (status, the Error message as a dict, or the raw body); the answer's
    headers go into ``answer_headers`` when one is given."""
    import email.utils
    import hashlib

    import httpx
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    from openkms.protocol.gateway.messages import parse

    document = json.loads(key_file)
    private, _, _ = pkcs12.load_key_and_certificates(base64.b64decode(document["PrivateKeyData"]), PASSWORD.encode())
    assert isinstance(private, rsa.RSAPrivateKey)
    headers = {
        "content-type": "application/x-protobuf",
        "content-sha256": hashlib.sha256(body).hexdigest().upper(),
        "date": date or email.utils.formatdate(usegmt=True),
        "x-kms-apiversion": "dkms-gcs-0.2",
        "x-kms-apiname": operation,
        "x-kms-signaturemethod": "RSA_PKCS1_SHA_256",
        "x-kms-acccesskeyid": document["KeyId"],
    }
    kms_headers = "".join(f"{k}:{headers[k]}\n" for k in sorted(h for h in headers if h.startswith("x-kms-")))
    text = f"POST\n{headers['content-sha256']}\n{headers['content-type']}\n{headers['date']}\n{kms_headers}/"
    signature = private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    headers["authorization"] = "Bearer " + base64.b64encode(signature).decode()
    if host is not None:
        headers["host"] = host
    answer = httpx.post(f"http://{server.endpoint}/", content=body if sent is None else sent, headers=headers)
    if answer_headers is not None:  # the caller's dict receives the answer's headers
        answer_headers.update(answer.headers)
    if answer.status_code == 200:
        return 200, answer.content
    error = parse("Error", answer.content)
    return answer.status_code, {"StatusCode": error.StatusCode, "ErrorCode": error.ErrorCode,
                                "ErrorMessage": error.ErrorMessage, "RequestId": error.RequestId}  # fmt: skip
