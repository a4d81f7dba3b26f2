"""Tag rules (spec 4.8): key 1-128, value 0-256 characters of a restricted set; 20 per key."""

from __future__ import annotations

import pytest

from openkms.domain import errors
from openkms.domain.tags import MAX_TAGS_PER_KEY, Tag, merge, validate_tag

ALLOWED_PUNCTUATION = " /\\_-.+=:@"


def test_valid_tags() -> None:
    assert validate_tag("env", "prod") == Tag("env", "prod")
    assert validate_tag("k" * 128, "v" * 256) == Tag("k" * 128, "v" * 256)
    assert validate_tag("a" + ALLOWED_PUNCTUATION, ALLOWED_PUNCTUATION).value == ALLOWED_PUNCTUATION
    assert validate_tag("empty-value-is-fine", "") == Tag("empty-value-is-fine", "")


@pytest.mark.parametrize(
    ("key", "value"),
    [("", "v"), ("k" * 129, "v"), ("k", "v" * 257), ("bad*key", "v"), ("k", "bad#value"), ("ключ", "v"), ("k", "\n")],
)
def test_invalid_tags(key: str, value: str) -> None:
    with pytest.raises(errors.InvalidParameter) as err:
        validate_tag(key, value, "Tags")
    assert err.value.name == "Tags"


@pytest.mark.parametrize("key", ["aliyun", "aliyunTag", "ALIYUN-x", "acs:x", "ACS:x"])
def test_reserved_key_prefixes(key: str) -> None:
    with pytest.raises(errors.InvalidParameter, match="aliyun"):
        validate_tag(key, "v")


def test_acs_without_colon_is_an_ordinary_key() -> None:
    assert validate_tag("acsx", "v").key == "acsx"


def test_merge_overwrites_an_existing_key_and_keeps_the_others() -> None:
    existing = [Tag("a", "1"), Tag("b", "2")]
    merged = merge(existing, [Tag("b", "3"), Tag("c", "4")])
    assert sorted((t.key, t.value) for t in merged) == [("a", "1"), ("b", "3"), ("c", "4")]


def test_merge_refuses_more_than_20_tags() -> None:
    existing = [Tag(f"k{i}", "v") for i in range(MAX_TAGS_PER_KEY)]
    assert len(merge(existing, [Tag("k0", "new")])) == MAX_TAGS_PER_KEY  # overwriting never counts
    with pytest.raises(errors.LimitExceeded):
        merge(existing, [Tag("one-more", "v")])
