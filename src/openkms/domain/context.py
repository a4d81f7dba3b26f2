"""EncryptionContext: a string-to-string map bound to a ciphertext as associated data.

The binding must not depend on the order the caller lists the pairs in, so the canonical form is
compact JSON with sorted keys; an absent or empty context is ``{}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from openkms.domain import errors
from openkms.domain.ciphertext import FORMAT_V2

MAX_CONTEXT_CHARS = 8192


def validate(context: Mapping[str, object], name: str = "EncryptionContext") -> dict[str, str]:
    out: dict[str, str] = {}
    total = 0
    for key, value in context.items():
        if not isinstance(value, str):
            raise errors.InvalidParameter(name, "Every value must be a string.")
        if not key:
            raise errors.InvalidParameter(name, "Keys must not be empty.")
        total += len(key) + len(value)
        out[key] = value
    if total > MAX_CONTEXT_CHARS:
        raise errors.InvalidParameter(name, f"At most {MAX_CONTEXT_CHARS} characters in all.")
    return out


def transfer_aad(context: Mapping[str, str] | None) -> bytes:
    """The ``Aad`` Alibaba's TransferClient sends the instance gateway's Advance operations for an
    EncryptionContext: the lower-case hex SHA-256 of ``k1=v1&k2=v2`` (keys sorted, UTF-8); none
    without a context."""
    if not context:
        return b""
    text = "&".join(f"{k}={context[k]}" for k in sorted(context))
    return hashlib.sha256(text.encode("utf-8")).hexdigest().encode("ascii")


def binding(fmt: int, context: Mapping[str, str] | None, aad: bytes | None = None) -> bytes:
    """What a blob of format ``fmt`` is bound to besides its header (domain/ciphertext.py), from
    the RPC API's EncryptionContext or the instance gateway's ``Aad`` (given: not None).

    Format 2 binds TransferClient's ``Aad`` for a context, so both protocols reach the same bytes.
    Format 1 bound the canonical context; through the gateway, no ``Aad`` is the empty context, and
    a context-bound format 1 blob opens only through the RPC API."""
    if fmt == FORMAT_V2:
        return transfer_aad(context) if aad is None else aad
    if aad is None:
        return canonical(context)
    return aad or canonical(None)


def canonical(context: Mapping[str, str] | None) -> bytes:
    if not context:
        return b"{}"
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
