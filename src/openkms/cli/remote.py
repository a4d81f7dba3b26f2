"""A minimal signed client (RPC V1, HMAC-SHA1) for commands that talk to a running server."""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openkms import API_VERSION
from openkms.protocol import signing


class RemoteError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} (HTTP {status}): {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass
class RemoteClient:
    endpoint: str  # host:port, or a URL
    access_key_id: str
    secret: str = field(repr=False)
    region: str | None = None
    ca_file: Path | None = None  # for an https endpoint whose certificate a local CA issued (DATA_DIR/tls/ca.pem)

    @property
    def url(self) -> str:
        return self.endpoint if "://" in self.endpoint else f"http://{self.endpoint}/"

    def call(self, action: str, **params: str) -> dict[str, Any]:
        query = {
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **({"RegionId": self.region} if self.region else {}),
            **params,
        }
        query["Signature"] = signing.v1_signature(self.secret, signing.v1_string_to_sign("POST", query))
        body = urllib.parse.urlencode(query).encode()
        request = urllib.request.Request(  # noqa: S310 - the operator chose the endpoint
            self.url, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        context = ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file is not None else None
        return _answer(request, context)


def client_from(
    endpoint: str, access_key_id: str | None, secret: str | None, credentials: Path | None, region: str | None
) -> RemoteClient:
    """Credentials from flags, else OPENKMS_ACCESS_KEY_ID/OPENKMS_ACCESS_KEY_SECRET, else a
    credentials file such as DATA_DIR/admin-credentials.json."""
    access_key_id = access_key_id or os.environ.get("OPENKMS_ACCESS_KEY_ID")
    secret = secret or os.environ.get("OPENKMS_ACCESS_KEY_SECRET")
    if (not access_key_id or not secret) and credentials is not None:
        record = json.loads(credentials.read_text())
        access_key_id, secret = record["AccessKeyId"], record["AccessKeySecret"]
    if not access_key_id or not secret:
        raise RemoteError(0, "MissingCredentials", "give --credentials FILE, or set OPENKMS_ACCESS_KEY_ID/SECRET")
    return RemoteClient(endpoint, access_key_id, secret, region)


CONTROL_PREFIX = "/_openkms"  # protocol/control.py's; the command line does not import the protocol
V3 = "ACS3-HMAC-SHA256"
_SHA = "x-acs-content-sha256"


@dataclass
class ControlClient:
    """The test control API's client: V3-signed JSON requests to ``/_openkms/...`` (README,
    "Testing with openkms", says how to sign them from another language)."""

    endpoint: str  # host:port, or a URL
    access_key_id: str
    secret: str = field(repr=False)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **query: str) -> dict[str, Any]:
        base = self.endpoint if "://" in self.endpoint else f"http://{self.endpoint}"
        host = urllib.parse.urlsplit(base).netloc
        full_path = f"{CONTROL_PREFIX}{path}"
        payload = json.dumps(body).encode() if body is not None else b""
        headers = {
            "host": host,
            "content-type": "application/json",
            "x-acs-action": "OpenKmsControl",
            "x-acs-version": "1",
            "x-acs-date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "x-acs-signature-nonce": uuid.uuid4().hex,
            "x-acs-content-sha256": signing.hash_hex(V3, payload),
        }
        signed = sorted(headers)
        canonical = signing.v3_canonical_request(
            method,
            full_path,
            query.items(),
            {k: [v] for k, v in headers.items()},
            signed,
            headers["x-acs-content-sha256"],
        )
        signature = signing.v3_signature(V3, self.secret, signing.v3_string_to_sign(V3, canonical))
        headers["authorization"] = signing.v3_authorization(V3, self.access_key_id, signed, signature)
        url = base.rstrip("/") + full_path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=payload or None, method=method, headers=headers)  # noqa: S310
        return _answer(request)


def _answer(request: urllib.request.Request, context: ssl.SSLContext | None = None) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:  # noqa: S310 - the caller's endpoint
            data: dict[str, Any] = json.loads(response.read())
            return data
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read())
        except ValueError:
            raise RemoteError(exc.code, "Unknown", "the server's answer is not JSON") from None
        raise RemoteError(exc.code, str(err.get("Code")), str(err.get("Message"))) from None
