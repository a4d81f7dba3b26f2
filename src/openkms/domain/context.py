"""EncryptionContext: a string-to-string map bound to a ciphertext as associated data.

The binding must not depend on the order the caller lists the pairs in, so the canonical form is
compact JSON with sorted keys; an absent or empty context is ``{}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from openkms.domain import errors

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


def binding(context: Mapping[str, str] | None, aad: bytes | None = None) -> bytes:
    """What a blob is bound to besides its header: the canonical context, or the instance
    gateway's ``Aad`` bytes as given (none is the empty context, so that a blob made without
    either opens through both protocols)."""
    if aad is None:
        return canonical(context)
    return aad or canonical(None)


def canonical(context: Mapping[str, str] | None) -> bytes:
    if not context:
        return b"{}"
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
