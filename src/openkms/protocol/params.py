"""Typed readers for action parameters, raising InvalidParameter / MissingParameter.

Liberal in what they accept, as real clients differ: an empty value means absent, booleans are
``true``/``True``, and maps come as a JSON string or flattened (``EncryptionContext.app=x``).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from openkms.domain import errors, numbers

_MAX_INDEX_DIGITS = 9


class Params:
    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def raw(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if value not in (None, "") else None

    def present(self, name: str) -> bool:
        """Sent at all, even empty: for the few parameters where an empty value is meaningful."""
        return name in self._values

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise errors.MissingParameter(name)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise errors.InvalidParameter(name, "Use true or false.")

    def required_flag(self, name: str) -> bool:
        self.required(name)
        return self.flag(name)

    def integer(self, name: str, lo: int | None = None, hi: int | None = None) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return numbers.parse_integer(value, lo=lo, hi=hi)
        except numbers.InvalidNumber as exc:
            raise errors.InvalidParameter(name, exc.reason) from None

    def b64(self, name: str) -> bytes:
        value = self.required(name)
        try:
            # Clients differ in padding and line breaks; anything else is not base64.
            compact = "".join(value.split())
            return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidParameter(name, "It is not valid base64.") from None

    def json(self, name: str) -> Any:
        value = self.raw(name)
        if value is None:
            return None
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
            raise errors.InvalidParameter(name, "It is not valid JSON.") from None
        if "\\u" in value:
            # A \uD800-\uDFFF escape without its pair decodes to a string that is not text
            # and fails later, wherever it is encoded (for example as associated data).
            try:
                json.dumps(parsed, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise errors.InvalidParameter(name, "It contains an unpaired surrogate escape.") from None
        return parsed

    def map(self, name: str) -> dict[str, Any]:
        """A JSON object, or flattened ``Name.key=value`` pairs."""
        value = self.json(name)
        if value is not None:
            if not isinstance(value, dict):
                raise errors.InvalidParameter(name, "It must be a JSON object.")
            return value
        prefix = name + "."
        return {k[len(prefix) :]: v for k, v in self._values.items() if k.startswith(prefix) and len(k) > len(prefix)}

    def indexed(self, name: str, limit: int) -> list[str]:
        """``Name.1``, ``Name.2``... in index order."""
        found: dict[int, str] = {}
        prefix = name + "."
        for key, value in self._values.items():
            index = numbers.digits(key[len(prefix) :], _MAX_INDEX_DIGITS) if key.startswith(prefix) else None
            if index is not None and value != "":
                found[index] = value
        if len(found) > limit:
            raise errors.InvalidParameter(name, f"At most {limit} values.")
        return [found[i] for i in sorted(found)]

    def indexed_pairs(self, name: str, limit: int) -> list[tuple[str, str]]:
        """``Name.N.Key`` / ``Name.N.Value`` pairs in index order (a missing value is empty)."""
        keys: dict[int, str] = {}
        values: dict[int, str] = {}
        prefix = name + "."
        for key, value in self._values.items():
            if not key.startswith(prefix):
                continue
            index_text, _, field = key[len(prefix) :].partition(".")
            index = numbers.digits(index_text, _MAX_INDEX_DIGITS)
            if index is None:
                continue
            if field == "Key":
                keys[index] = value
            elif field == "Value":
                values[index] = value
        if len(keys) > limit:
            raise errors.InvalidParameter(name, f"At most {limit} tags.")
        return [(keys[i], values.get(i, "")) for i in sorted(keys) if keys[i] != ""]
