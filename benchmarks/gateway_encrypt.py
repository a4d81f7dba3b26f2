"""What the instance gateway costs per request: AdvanceEncrypt through the gateway's pipeline
(protobuf, SHA-256 of the body, the client key's RSA-2048 signature verified, access point
policies, network rules) against RPC Encrypt through the RPC pipeline (V1 HMAC signature, nonce),
the same key, the same plaintext, in the same process and run.

Both pipelines are called in-process (``GatewayHandler.handle`` and ``RpcHandler.handle``, what the
ASGI apps call for each request), every request signed beforehand, so the figures are the server's
CPU per request without the HTTP server around it (which costs both the same). The two take turns
round by round, either first in turn; the table gives the median of ``--rounds`` rounds of CPU
(process time) per request, and the ratio gateway / RPC (the target: within 1.2).

    python benchmarks/gateway_encrypt.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from openkms import API_VERSION, bootstrap
from openkms.domain.app_access import KEY_USER
from openkms.domain.identity import Caller
from openkms.domain.instances import DEFAULT_INSTANCE
from openkms.protocol import signing
from openkms.protocol.app import RpcHandler
from openkms.protocol.gateway.app import GatewayHandler
from openkms.protocol.gateway.messages import new
from openkms.service.app_access import PolicyFields
from openkms.service.keys import CreateKeyRequest
from openkms.settings import Settings

PLAINTEXT = os.urandom(32)
PASSWORD = "bench-password-1"


def rpc_request(access_key_id: str, secret: str, key_id: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    values = {
        "Action": "Encrypt", "Version": API_VERSION, "Format": "JSON", "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "KeyId": key_id,
        "Plaintext": base64.b64encode(PLAINTEXT).decode(),
    }  # fmt: skip
    values["Signature"] = signing.v1_signature(secret, signing.v1_string_to_sign("POST", values))
    body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in values.items()).encode()
    return [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/x-www-form-urlencoded")], body


def gateway_request(key: rsa.RSAPrivateKey, client_key_id: str, key_id: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = new("AdvanceEncryptRequest", KeyId=key_id, Plaintext=PLAINTEXT, Iv=os.urandom(12)).SerializeToString()
    headers = {
        "content-type": "application/x-protobuf", "content-sha256": hashlib.sha256(body).hexdigest().upper(),
        "date": email.utils.formatdate(usegmt=True), "x-kms-apiversion": "dkms-gcs-0.2",
        "x-kms-apiname": "AdvanceEncrypt", "x-kms-signaturemethod": "RSA_PKCS1_SHA_256",
        "x-kms-acccesskeyid": client_key_id,
    }  # fmt: skip
    signed = "".join(f"{k}:{headers[k]}\n" for k in sorted(h for h in headers if h.startswith("x-kms-")))
    text = f"POST\n{headers['content-sha256']}\n{headers['content-type']}\n{headers['date']}\n{signed}/"
    signature = key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    headers["authorization"] = "Bearer " + base64.b64encode(signature).decode()
    return [(k.encode(), v.encode()) for k, v in headers.items()], body


def cpu_per_request(requests: list[tuple[list[tuple[bytes, bytes]], bytes]], call: Callable[..., int]) -> float:
    started = time.process_time()
    for headers, body in requests:
        status = call(headers, body)
        if status != 200:
            raise SystemExit(f"a request failed with HTTP {status}")
    return (time.process_time() - started) / len(requests) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.requests} requests a round")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings.load(env={}, data_dir=Path(tmp) / "data", rsa_pool_size=0, auto_softhsm=False)
        bootstrap.prepare(cfg)
        runtime = bootstrap.build(cfg)
        try:
            s = runtime.services
            issued = s.identity.create_access_key(new_account=True)
            caller = Caller(issued.access_key.account_uid, "cn-hangzhou", issued.access_key.id)
            key_id = s.keys.create_key(caller, CreateKeyRequest()).id
            s.app_access.create_network_rule(caller, "net", "Private", ("127.0.0.0/8",), "")
            s.app_access.create_policy(
                caller, "use", DEFAULT_INSTANCE, PolicyFields("", (KEY_USER,), ("key/*",), ("net",))
            )
            s.app_access.create_access_point(caller, "app", "ClientKey", ("use",), "")
            client_key = s.app_access.create_client_key(caller, "app", PASSWORD, None, None)
            private, _, _ = pkcs12.load_key_and_certificates(client_key.private_key_data, PASSWORD.encode())
            assert isinstance(private, rsa.RSAPrivateKey)
            rpc = RpcHandler(s, runtime.nonces, runtime.auth_clock)
            gateway = GatewayHandler(s, s.gateway, runtime.auth_clock, 256 * 1024)

            def rpc_call(headers: list[tuple[bytes, bytes]], body: bytes) -> int:
                return rpc.handle("POST", "/", b"", headers, body, "127.0.0.1").status

            def gateway_call(headers: list[tuple[bytes, bytes]], body: bytes) -> int:
                return gateway.handle(headers, body, "127.0.0.1", False).status

            cpu: dict[str, list[float]] = {"RPC Encrypt": [], "gateway AdvanceEncrypt": []}
            for round_no in range(args.rounds + 1):  # round 0 warms up
                batches = {
                    "RPC Encrypt": ([rpc_request(issued.access_key.id, issued.secret, key_id)
                                     for _ in range(args.requests)], rpc_call),
                    "gateway AdvanceEncrypt": ([gateway_request(private, client_key.key.id, key_id)
                                                for _ in range(args.requests)], gateway_call),
                }  # fmt: skip
                order = list(batches) if round_no % 2 else list(batches)[::-1]
                for name in order:
                    requests, call = batches[name]
                    measured = cpu_per_request(requests, call)
                    if round_no:
                        cpu[name].append(measured)
        finally:
            runtime.close()
    rpc_us, gateway_us = (statistics.median(v) for v in cpu.values())
    print(f"{'pipeline':<26}{'CPU µs/request (median)':>26}{'rounds':>8}")
    for name, values in cpu.items():
        print(f"{name:<26}{statistics.median(values):>26.1f}{len(values):>8}")
    print(f"ratio gateway / RPC: {gateway_us / rpc_us:.2f} (target <= 1.20)")


if __name__ == "__main__":
    main()
