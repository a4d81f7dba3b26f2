"""RAM's wildcards, compiled once per pattern: ``*`` any run of characters (none included), ``?``
exactly one."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=8192)
def wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
