"""Tag rules: keys 1-128 and values 0-256 characters of a restricted set; no aliyun/acs: prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass

from openkms.domain import errors

MAX_TAGS_PER_KEY = 20
_KEY = re.compile(r"[A-Za-z0-9 /\\_\-.+=:@]{1,128}")
_VALUE = re.compile(r"[A-Za-z0-9 /\\_\-.+=:@]{0,256}")


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str


def validate_tag(key: str, value: str, param: str = "Tags") -> Tag:
    # fullmatch, not match with "$": "$" also matches before a trailing newline.
    if not _KEY.fullmatch(key):
        raise errors.InvalidParameter(
            param, "A TagKey is 1 to 128 characters of letters, digits, spaces and / \\ _ - . + = : @."
        )
    if key.lower().startswith(("aliyun", "acs:")):
        raise errors.InvalidParameter(param, "A TagKey must not start with 'aliyun' or 'acs:'.")
    if not _VALUE.fullmatch(value):
        raise errors.InvalidParameter(
            param, "A TagValue is up to 256 characters of letters, digits, spaces and / \\ _ - . + = : @."
        )
    return Tag(key, value)


def merge(existing: list[Tag], new: list[Tag]) -> list[Tag]:
    """Upsert ``new`` into ``existing``, refusing to exceed the per-key limit."""
    by_key = {t.key: t for t in existing}
    for tag in new:
        by_key[tag.key] = tag
    if len(by_key) > MAX_TAGS_PER_KEY:
        raise errors.LimitExceeded(f"A key carries at most {MAX_TAGS_PER_KEY} tags.")
    return list(by_key.values())
