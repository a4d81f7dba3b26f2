"""A minimal signed client (RPC V1, HMAC-SHA1) for commands that talk to a running server."""

from __future__ import annotations

import json
import os
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


@dataclass
class RemoteClient:
    endpoint: str  # host:port, or a URL
    access_key_id: str
    secret: str = field(repr=False)
    region: str | None = None

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
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                data: dict[str, Any] = json.loads(response.read())
                return data
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read())
            except ValueError:
                raise RemoteError(exc.code, "Unknown", "the server's answer is not JSON") from None
            raise RemoteError(exc.code, str(err.get("Code")), str(err.get("Message"))) from None


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
