"""Alibaba Cloud request signatures: RPC V1 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256 / ACS3-HMAC-SM3).

Pure functions over strings, shared by the server's verifier and the command-line client.
The worked examples of the API notes (spec sections 1.4 and 1.5) are unit tests of this module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

V3_ALGORITHMS = {"ACS3-HMAC-SHA256": "sha256", "ACS3-HMAC-SM3": "sm3"}
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_UNRESERVED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
# ASCII text is one byte per character, so each character maps to its own escape.
_ASCII_ESCAPES = {c: f"%{c:02X}" for c in range(128) if chr(c) not in _UNRESERVED_CHARS}


def percent_encode(text: str) -> str:
    """RFC 3986: only ``A-Z a-z 0-9 - _ . ~`` stay as they are; a space is %20, never +."""
    if _UNRESERVED.fullmatch(text):  # most names and values: skip the slower general paths
        return text
    if text.isascii():  # base64 and timestamps: a table lookup per character, in C
        return text.translate(_ASCII_ESCAPES)
    return quote(text, safe="~", encoding="utf-8")


# --- V1 -----------------------------------------------------------------------------------------


def v1_canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params) if k != "Signature")


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    # The canonical query holds only unreserved characters, '%', '=' and '&', so encoding it
    # again reduces to three replacements.
    query = v1_canonical_query(params).replace("%", "%25").replace("=", "%3D").replace("&", "%26")
    return f"{method.upper()}&%2F&{query}"


def v1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# --- V3 -----------------------------------------------------------------------------------------


def v3_canonical_query(query: Iterable[tuple[str, str]]) -> str:
    pairs = sorted(query)
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in pairs)


def v3_canonical_headers(headers: Mapping[str, list[str]], signed: list[str]) -> str:
    lines = []
    for name in signed:
        values = sorted(v.strip() for v in headers.get(name, []))
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def v3_canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, list[str]],
    signed_headers: list[str],
    payload_hash: str,
) -> str:
    signed = sorted(h.lower() for h in signed_headers)
    return "\n".join(
        (
            method.upper(),
            path or "/",
            v3_canonical_query(query),
            v3_canonical_headers(headers, signed),
            ";".join(signed),
            payload_hash,
        )
    )


def hash_hex(algorithm: str, data: bytes) -> str:
    return hashlib.new(V3_ALGORITHMS[algorithm], data).hexdigest()


def v3_string_to_sign(algorithm: str, canonical_request: str) -> str:
    return f"{algorithm}\n{hash_hex(algorithm, canonical_request.encode())}"


def v3_signature(algorithm: str, secret: str, string_to_sign: str) -> str:
    return hmac.new(secret.encode(), string_to_sign.encode(), V3_ALGORITHMS[algorithm]).hexdigest()


def v3_authorization(algorithm: str, access_key_id: str, signed_headers: list[str], signature: str) -> str:
    signed = ";".join(sorted(h.lower() for h in signed_headers))
    return f"{algorithm} Credential={access_key_id},SignedHeaders={signed},Signature={signature}"
