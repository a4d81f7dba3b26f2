"""Hand-signed RPC requests (signature V1 and V3) sent with httpx, for the wire-level cases the
official SDKs cannot express: a chosen nonce or timestamp, parameters in a form body, a ``Host``
naming a region, flattened maps, tampered headers, ``Format=XML``, other HTTP methods.

Signing uses ``openkms.protocol.signing`` (itself checked against the spec's worked examples),
so a request built here is exactly what a correct client sends unless a test bends it::

    signer = Signer.for_new_account(server)
    resp = signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "hi"}).send()
    resp = signer.v3("DescribeKey", {"KeyId": key_id}, host="kms.cn-shanghai.aliyuncs.com").send()
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from openkms.protocol import signing

API_VERSION = "2016-01-20"
FORM = "application/x-www-form-urlencoded"


class _Server(Protocol):
    @property
    def base_url(self) -> str: ...

    def new_account(self) -> tuple[str, str, str]: ...


def utc_stamp(offset_seconds: float = 0.0) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` for the real time plus an offset (signatures use the real clock)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_seconds))


def new_nonce() -> str:
    return uuid.uuid4().hex


def encode(text: str, plus_for_space: bool = False) -> str:
    """RFC 3986 percent-encoding (a space is %20), or form style with '+' for a space."""
    encoded = signing.percent_encode(text)
    return encoded.replace("%20", "+") if plus_for_space else encoded


def encode_pairs(pairs: Mapping[str, str], plus_for_space: bool = False) -> str:
    return "&".join(f"{encode(k, plus_for_space)}={encode(v, plus_for_space)}" for k, v in pairs.items())


@dataclass
class Prepared:
    """A request ready to send, with the string to sign the server is expected to compute."""

    method: str
    base_url: str
    query: str  # already encoded, without '?'
    body: bytes
    headers: dict[str, str]
    string_to_sign: str
    params: dict[str, str] = field(default_factory=dict)  # V1: every signed parameter

    @property
    def url(self) -> str:
        return f"{self.base_url}/?{self.query}" if self.query else f"{self.base_url}/"

    def send(self, method: str | None = None) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            return client.request(method or self.method, self.url, content=self.body, headers=self.headers)


@dataclass
class Signer:
    base_url: str
    access_key_id: str
    secret: str

    @classmethod
    def for_new_account(cls, server: _Server) -> Signer:
        ak, secret, _ = server.new_account()
        return cls(server.base_url, ak, secret)

    # --- V1 (HMAC-SHA1) -------------------------------------------------------------------------

    def v1(
        self,
        action: str | None,
        params: Mapping[str, str] | None = None,
        *,
        method: str = "POST",
        version: str | None = API_VERSION,
        fmt: str | None = "JSON",
        timestamp: str | None = "now",
        nonce: str | None = None,
        secret: str | None = None,
        access_key_id: str | None = None,
        in_body: Collection[str] | Literal["all"] = (),
        plus_for_space: bool = False,
        sign: bool = True,
        signature_method: str = "HMAC-SHA1",
        headers: Mapping[str, str] | None = None,
    ) -> Prepared:
        """An RPC V1 request. ``in_body`` names the parameters sent in a form body ("all" for every
        one, Signature included); the signature covers query and body alike. ``timestamp=None``
        leaves Timestamp out; ``sign=False`` leaves Signature out; ``secret`` signs with another secret."""
        common: dict[str, str] = {
            "AccessKeyId": access_key_id or self.access_key_id,
            "SignatureMethod": signature_method,
            "SignatureVersion": "1.0",
            "SignatureNonce": nonce or new_nonce(),
        }
        if action is not None:
            common["Action"] = action
        if version is not None:
            common["Version"] = version
        if fmt is not None:
            common["Format"] = fmt
        if timestamp is not None:
            common["Timestamp"] = utc_stamp() if timestamp == "now" else timestamp
        all_params = {**common, **(params or {})}
        string_to_sign = signing.v1_string_to_sign(method, all_params)
        if sign:
            all_params["Signature"] = signing.v1_signature(
                secret if secret is not None else self.secret, string_to_sign
            )
        body_names = set(all_params) if in_body == "all" else set(in_body)
        query = {k: v for k, v in all_params.items() if k not in body_names}
        form = {k: v for k, v in all_params.items() if k in body_names}
        hdrs = dict(headers or {})
        body = b""
        if form:
            hdrs.setdefault("content-type", FORM)
            body = encode_pairs(form, plus_for_space).encode("ascii")
        return Prepared(
            method, self.base_url, encode_pairs(query, plus_for_space), body, hdrs, string_to_sign, all_params
        )

    # --- V3 (ACS3-HMAC-SHA256 / ACS3-HMAC-SM3) --------------------------------------------------

    def v3(
        self,
        action: str | None,
        query: Mapping[str, str] | None = None,
        *,
        body: Mapping[str, str] | None = None,
        method: str = "POST",
        algorithm: str = "ACS3-HMAC-SHA256",
        version: str | None = API_VERSION,
        date: str | None = "now",
        nonce: str | None = None,
        secret: str | None = None,
        access_key_id: str | None = None,
        host: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        signed_headers: Collection[str] | None = None,
        content_sha256: str | None = "auto",
        after_signing: Mapping[str, str] | None = None,
        plus_for_space: bool = False,
    ) -> Prepared:
        """A V3 request shaped like the new Python SDK's. ``signed_headers`` limits what is signed
        (default: every header set here); ``after_signing`` changes or adds headers once the
        signature is made; ``content_sha256=None`` leaves that header out."""
        raw_body = encode_pairs(body, plus_for_space).encode("ascii") if body is not None else b""
        hdrs: dict[str, str] = {"host": host or httpx.URL(self.base_url).netloc.decode("ascii")}
        if action is not None:
            hdrs["x-acs-action"] = action
        if version is not None:
            hdrs["x-acs-version"] = version
        if date is not None:
            hdrs["x-acs-date"] = utc_stamp() if date == "now" else date
        hdrs["x-acs-signature-nonce"] = nonce or new_nonce()
        payload_hash = signing.hash_hex(algorithm, raw_body)
        if content_sha256 is not None:
            hdrs["x-acs-content-sha256"] = payload_hash if content_sha256 == "auto" else content_sha256
        hdrs["accept"] = "application/json"
        if body is not None:
            hdrs["content-type"] = FORM
        hdrs.update({k.lower(): v for k, v in (extra_headers or {}).items()})
        signed = sorted(h.lower() for h in (signed_headers if signed_headers is not None else hdrs))
        pairs = list((query or {}).items())
        canonical = signing.v3_canonical_request(
            method, "/", pairs, {k: [v] for k, v in hdrs.items()}, signed, payload_hash
        )
        string_to_sign = signing.v3_string_to_sign(algorithm, canonical)
        signature = signing.v3_signature(algorithm, secret if secret is not None else self.secret, string_to_sign)
        hdrs["authorization"] = signing.v3_authorization(
            algorithm, access_key_id or self.access_key_id, signed, signature
        )
        hdrs.update({k.lower(): v for k, v in (after_signing or {}).items()})
        return Prepared(
            method, self.base_url, encode_pairs(dict(pairs), plus_for_space), raw_body, hdrs, string_to_sign
        )


def error_of(resp: httpx.Response) -> tuple[int, str]:
    """(HTTP status, Alibaba Code) of a JSON response; Code is "" on success."""
    body: dict[str, Any] = resp.json()
    return resp.status_code, str(body.get("Code", ""))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
