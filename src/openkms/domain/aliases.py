"""Alias names: ``alias/`` + 1-255 of ``[A-Za-z0-9_/-]``, never under the reserved ``alias/acs``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from openkms.domain import errors

PREFIX = "alias/"
DEFAULT_ALIASES_PER_REGION = 300  # the cloud's limit; configurable
_NAME = re.compile(r"alias/[A-Za-z0-9_/\-]{1,255}")


def validate_alias_name(name: str) -> str:
    if not _NAME.fullmatch(name):  # fullmatch: "$" would let a trailing newline through
        raise errors.InvalidParameter(
            "AliasName",
            "An alias is alias/ followed by 1 to 255 letters, digits, '_', '/' or '-'.",
        )
    if name.lower().startswith("alias/acs"):
        raise errors.InvalidParameter("AliasName", "The prefix alias/acs is reserved.")
    return name


def is_alias(ref: str) -> bool:
    return ref.startswith(PREFIX)


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    key_id: str
    account_uid: str
    region: str
    created_at: int
