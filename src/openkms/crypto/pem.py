"""PEM armour around DER (RFC 7468): the one writer and reader of ``-----BEGIN …-----`` blocks."""

from __future__ import annotations

import base64

_DASHES = b"-----"


def encode(der: bytes, label: str = "PUBLIC KEY") -> str:
    """The PEM block, 64-column lines, as OpenSSL writes it."""
    body = base64.b64encode(der).decode("ascii")
    lines = "".join(body[i : i + 64] + "\n" for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}-----END {label}-----\n"


def is_pem(data: bytes) -> bool:
    return data.lstrip().startswith(_DASHES + b"BEGIN")


def decode(data: bytes) -> bytes:
    """The DER inside a PEM block: its armour lines and whitespace dropped. ValueError when the rest
    is not base64."""
    body = b"".join(line for line in data.strip().splitlines() if not line.startswith(_DASHES))
    return base64.b64decode(b"".join(body.split()), validate=True)


def to_der(data: bytes) -> bytes:
    """DER as given, or the DER inside a PEM block."""
    return decode(data) if is_pem(data) else data
