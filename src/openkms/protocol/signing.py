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
_UNRESERVED_BYTES = "".join(sorted(_UNRESERVED_CHARS)).encode("ascii")
# ASCII text is one byte per character, so each character maps to its own escape.
_ASCII_ESCAPES = {c: f"%{c:02X}" for c in range(128) if chr(c) not in _UNRESERVED_CHARS}


def percent_encode(text: str) -> str:
    """RFC 3986: only ``A-Z a-z 0-9 - _ . ~`` stay as they are; a space is %20, never +."""
    if _UNRESERVED.fullmatch(text):  # most names and values: skip the slower general paths
        return text
    if text.isascii():  # base64 and timestamps: a table lookup per character, in C
        return text.translate(_ASCII_ESCAPES)
    return quote(text, safe="~", encoding="utf-8")


# --- canonical queries ----------------------------------------------------------------------------
# A canonical query is every name and value percent-encoded, sorted, joined with '=' and '&'; V1
# signs that text percent-encoded once more. Encoding each name and value apart cost a call (and a
# scan) per piece, about half of V1's verification; here the pairs are joined once, with two
# stand-ins for the '=' and '&' between them, and each reserved character that occurs is replaced
# throughout the query in one str.replace, the stand-ins by the separators' own text.
_EQ, _AMP = "\x00", "\x01"
_UNRESERVED_OR_STAND_IN = _UNRESERVED_BYTES + b"\x00\x01"
_ONCE = {chr(c): escape for c, escape in _ASCII_ESCAPES.items()}
_TWICE = {char: escape.replace("%", "%25") for char, escape in _ONCE.items()}


def _escape(char: str, twice: bool) -> str:
    table = _TWICE if twice else _ONCE
    if char in table:
        return table[char]
    # ``%XX`` for each UTF-8 byte; a lone surrogate raises UnicodeEncodeError, as quote() does.
    escaped = "".join(f"%{b:02X}" for b in char.encode("utf-8"))
    return escaped.replace("%", "%25") if twice else escaped


def _piecewise(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{percent_encode(name)}={percent_encode(value)}" for name, value in pairs)


def _encode_joined(text: str, pairs: int, twice: bool) -> str | None:
    """``text``: ``pairs`` names and values joined with the stand-ins. The canonical query they
    make (``twice``: percent-encoded again, as V1's string to sign holds it), or None if a name or
    value holds a stand-in itself (a control character no client sends)."""
    if text.count(_EQ) != pairs or text.count(_AMP) != max(pairs - 1, 0):
        return None
    if text.isascii():  # the reserved characters that occur, found in C
        found = set(text.encode("ascii").translate(None, _UNRESERVED_OR_STAND_IN).decode("ascii"))
    else:
        found = set(text) - _UNRESERVED_CHARS - {_EQ, _AMP}
    if "%" in found:  # first: the escapes put in below hold '%', which must stay as it is
        text = text.replace("%", _escape("%", twice))
        found.discard("%")
    for char in found:
        text = text.replace(char, _escape(char, twice))
    # Last, so that an '=' or '&' of a name or value is escaped and a separator is not.
    return text.replace(_EQ, "%3D" if twice else "=").replace(_AMP, "%26" if twice else "&")


# --- V1 -----------------------------------------------------------------------------------------


def _v1_query(params: Mapping[str, str], twice: bool) -> str:
    names = sorted(params)
    if "Signature" in params:
        names.remove("Signature")
    query = _encode_joined(_AMP.join([f"{name}{_EQ}{params[name]}" for name in names]), len(names), twice)
    if query is None:
        query = _piecewise([(name, params[name]) for name in names])
        return percent_encode(query) if twice else query
    return query


def v1_canonical_query(params: Mapping[str, str]) -> str:
    return _v1_query(params, twice=False)


def v1_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&%2F&{_v1_query(params, twice=True)}"


def v1_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# --- V3 -----------------------------------------------------------------------------------------


def v3_canonical_query(query: Iterable[tuple[str, str]]) -> str:
    pairs = sorted(query)
    if not pairs:  # the SDKs' POST: every parameter in the body
        return ""
    joined = _encode_joined(_AMP.join([f"{name}{_EQ}{value}" for name, value in pairs]), len(pairs), twice=False)
    return _piecewise(pairs) if joined is None else joined


def v3_canonical_headers(headers: Mapping[str, list[str]], signed: list[str]) -> str:
    lines = []
    for name in signed:
        values = headers.get(name, [])
        # A header sent once (all but a few, in practice) needs no sort.
        text = values[0].strip() if len(values) == 1 else ",".join(sorted(v.strip() for v in values))
        lines.append(f"{name}:{text}\n")
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
