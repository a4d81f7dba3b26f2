"""An RPC request as the protocol layer sees it: method, headers, and the merged parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from openkms.protocol.errors import ParseRequestParameter

FORM = "application/x-www-form-urlencoded"
# A '%' not followed by two hex digits: urllib would keep it as a literal, but no client encodes
# that way, and the value the client signed cannot be known.
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(slots=True)
class RpcRequest:
    method: str
    path: str
    host: str
    # The payload (a Plaintext, say) stays out of the repr.
    headers: dict[str, list[str]] = field(repr=False)
    body: bytes = field(repr=False)
    query: list[tuple[str, str]] = field(repr=False)
    form: list[tuple[str, str]] = field(repr=False)
    params: dict[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


def _unquote(text: str) -> str:
    if "%" in text:
        if _BAD_ESCAPE.search(text):
            raise ValueError("malformed percent-escape")
        # unquote_plus without its generic layers (twice as fast); invalid UTF-8 still raises.
        return unquote_to_bytes(text.replace("+", " ")).decode("utf-8")
    return text.replace("+", " ") if "+" in text else text


def _decode_pairs(raw: bytes, where: str) -> list[tuple[str, str]]:
    """Form decoding, as urllib's parse_qsl but faster: '+' is a space, %XX escapes are UTF-8,
    and blank values are kept (they are signed)."""
    try:
        pairs = []
        for part in raw.decode("ascii").split("&"):
            if not part:
                continue
            name, _, value = part.partition("=")
            pairs.append((_unquote(name), _unquote(value)))
        return pairs
    except (UnicodeDecodeError, ValueError):
        raise ParseRequestParameter(f"The {where} is not valid URL-encoded UTF-8.") from None


def build_request(
    method: str, path: str, raw_query: bytes, raw_headers: list[tuple[bytes, bytes]], body: bytes
) -> RpcRequest:
    headers: dict[str, list[str]] = {}
    for name, value in raw_headers:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    query = _decode_pairs(raw_query, "query string") if raw_query else []
    content_type = (headers.get("content-type") or [""])[0].lower()
    form = _decode_pairs(body, "form body") if body and content_type.startswith(FORM) else []
    params = dict(query)
    params.update(form)  # the body wins on conflict
    host = (headers.get("host") or [""])[0]
    return RpcRequest(method.upper(), path, host, headers, body, query, form, params)
