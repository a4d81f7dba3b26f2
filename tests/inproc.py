"""A real openkms runtime without HTTP: SQLite store in a temporary directory, manual clocks, and
a V1-signed caller of ``RpcHandler.handle`` (the request pipeline the server runs)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from openkms import API_VERSION, bootstrap
from openkms.domain.identity import Caller
from openkms.domain.ports import Authorizer
from openkms.protocol import signing
from openkms.protocol.app import Response, RpcHandler
from openkms.settings import Settings
from openkms.system import ManualClock


@dataclass
class Inproc:
    runtime: bootstrap.Runtime
    clock: ManualClock  # the services' clock
    auth_clock: ManualClock  # the clock signatures are checked against
    handler: RpcHandler
    access_key_id: str
    secret: str
    account_uid: str
    data_dir: Path

    @property
    def caller(self) -> Caller:
        return Caller(self.account_uid, "cn-hangzhou", self.access_key_id)

    def request(
        self,
        action: str,
        params: dict[str, str] | None = None,
        *,
        timestamp: float | None = None,
        nonce: str | None = None,
        client: str = "",
    ) -> Response:
        """A V1-signed POST with every parameter in the form body, from ``client`` (an address)."""
        headers, body = self.signed(action, params, timestamp=timestamp, nonce=nonce)
        return self.handler.handle("POST", "/", b"", headers, body, client)

    def signed(
        self,
        action: str,
        params: dict[str, str] | None = None,
        *,
        timestamp: float | None = None,
        nonce: str | None = None,
    ) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The headers and form body of a V1-signed POST of ``action``."""
        when = self.auth_clock.now() if timestamp is None else timestamp
        values = {
            "Action": action,
            "Version": API_VERSION,
            "Format": "JSON",
            "AccessKeyId": self.access_key_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
            **(params or {}),
        }
        values["Signature"] = signing.v1_signature(self.secret, signing.v1_string_to_sign("POST", values))
        body = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in values.items()).encode("ascii")
        headers = [(b"host", b"127.0.0.1:8080"), (b"content-type", b"application/x-www-form-urlencoded")]
        return headers, body


@contextmanager
def inproc_runtime(data_dir: Path, authorizer: Authorizer | None = None, **settings: object) -> Iterator[Inproc]:
    cfg = Settings.load(env={}, data_dir=data_dir, rsa_pool_size=0, **settings)
    bootstrap.prepare(cfg)
    clock, auth_clock = ManualClock(), ManualClock()
    runtime = bootstrap.build(cfg, clock=clock, auth_clock=auth_clock, authorizer=authorizer)
    try:
        issued = runtime.services.identity.create_access_key(new_account=True)
        handler = RpcHandler(runtime.services, runtime.nonces, auth_clock)
        yield Inproc(
            runtime,
            clock,
            auth_clock,
            handler,
            issued.access_key.id,
            issued.secret,
            issued.access_key.account_uid,
            data_dir,
        )
    finally:
        runtime.close()
