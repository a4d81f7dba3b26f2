"""Tag use cases: the per-key actions and the batch (TagResources family) actions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from openkms.domain import errors, tags
from openkms.domain.actions import action
from openkms.domain.identity import Caller
from openkms.domain.ports import Clock, Store
from openkms.domain.tags import Tag
from openkms.service.resolve import KeyResolver

MAX_BATCH_RESOURCES = 50
MAX_BATCH_TAGS = 20
PAGE_ROWS = 200
_TOKEN = re.compile(r"[0-9]{1,12}")

# (one key, a batch) for each use case
_TAG = (action("TagResource"), action("TagResources"))
_UNTAG = (action("UntagResource"), action("UntagResources"))
_LIST, _LIST_RESOURCES = action("ListResourceTags"), action("ListTagResources")


@dataclass(frozen=True, slots=True)
class TagResourceRow:
    resource_id: str
    key: str
    value: str


class TagService:
    def __init__(self, store: Store, resolver: KeyResolver, clock: Clock) -> None:
        self._store = store
        self._resolver = resolver
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock.now())

    def tag(self, caller: Caller, refs: Sequence[str], new: Sequence[Tag], batch: bool = False) -> None:
        """Upsert tags on every key named; all keys are checked before any is changed."""
        now = self._now()
        with self._store.write() as uow:
            found = [self._resolver.key(uow, caller, ref, _TAG[batch], now) for ref in refs]
            for key in found:
                uow.tags.replace(key.id, tags.merge(uow.tags.for_key(key.id), list(new)))

    def untag(self, caller: Caller, refs: Sequence[str], tag_keys: Sequence[str] | None, batch: bool = False) -> None:
        """Remove the named tag keys, or every tag when ``tag_keys`` is None."""
        now = self._now()
        with self._store.write() as uow:
            found = [self._resolver.key(uow, caller, ref, _UNTAG[batch], now) for ref in refs]
            for key in found:
                keep = [] if tag_keys is None else [t for t in uow.tags.for_key(key.id) if t.key not in set(tag_keys)]
                uow.tags.replace(key.id, keep)

    def list_tags(self, caller: Caller, ref: str) -> tuple[str, list[Tag]]:
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, _LIST, self._now())
            return key.id, uow.tags.for_key(key.id)

    def list_tag_resources(
        self, caller: Caller, refs: Sequence[str], wanted: Sequence[Tag], next_token: str | None
    ) -> tuple[list[TagResourceRow], str]:
        """One row per (key, tag). ``wanted`` filters by tag key (and value, when not empty)."""
        now = self._now()
        with self._store.read() as uow:
            if refs:
                keys_ = [self._resolver.key(uow, caller, ref, _LIST_RESOURCES, now) for ref in refs]
            else:
                self._resolver.authorize(caller, _LIST_RESOURCES)
                keys_ = [k for k in uow.keys.list_in_region(caller.account_uid, caller.region) if not k.is_gone(now)]
            by_key = uow.tags.list_for_region(caller.account_uid, caller.region)
        rows = [
            TagResourceRow(k.id, t.key, t.value)
            for k in keys_
            for t in by_key.get(k.id, [])
            if not wanted or any(w.key == t.key and (not w.value or w.value == t.value) for w in wanted)
        ]
        return page_rows(rows, next_token)


def page_rows(rows: list[TagResourceRow], next_token: str | None) -> tuple[list[TagResourceRow], str]:
    """One page of ListTagResources' rows from ``next_token``, and the token of the next page."""
    start = _decode_token(next_token)
    page = rows[start : start + PAGE_ROWS]
    more = start + PAGE_ROWS < len(rows)
    return page, (str(start + PAGE_ROWS) if more else "")


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    # ASCII digits, bounded: str.isdigit() accepts '²' and int() refuses over 4300 digits.
    if not _TOKEN.fullmatch(token):
        raise errors.InvalidParameter("NextToken")
    return int(token)
