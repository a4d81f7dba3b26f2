"""Tags: the ``tags`` table, a key's (tag key, tag value) pairs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, insert, select

from openkms.domain.tags import Tag
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Mapper

TAG = Mapper(Tag, t.tags, columns={"key": "tag_key", "value": "tag_value"})
T = t.tags.c
K = t.keys.c

TAG_LIST = select(*TAG.columns).where(T.key_id == param("key_id")).order_by(T.tag_key)
# The tag's columns first (what TAG.from_row reads), its key's id after them.
TAG_LIST_REGION = (
    select(*TAG.columns, T.key_id)
    .join(t.keys, K.id == T.key_id)
    .where(K.account_uid == param("account"), K.region == param("region"))
    .order_by(T.key_id, T.tag_key)
)
TAG_CLEAR = delete(t.tags).where(T.key_id == param("key_id"))
TAG_INSERT = insert(t.tags).values(key_id=param("key_id"), **TAG.values())


class SqlTags:
    def __init__(self, db: Db) -> None:
        self._db = db

    def for_key(self, key_id: str) -> list[Tag]:
        return self._db.all_as(TAG_LIST, TAG.from_row, key_id=key_id)

    def list_for_region(self, account_uid: str, region: str) -> dict[str, list[Tag]]:
        out: dict[str, list[Tag]] = {}
        for r in self._db.all(TAG_LIST_REGION, account=account_uid, region=region):
            out.setdefault(r[2], []).append(TAG.from_row(r))
        return out

    def add_many(self, tags: Mapping[str, Sequence[Tag]]) -> None:
        self._db.run_many(TAG_INSERT, [{"key_id": k, **TAG.to_params(t)} for k, ts in tags.items() for t in ts])

    def replace(self, key_id: str, tags: list[Tag]) -> None:
        self._db.run(TAG_CLEAR, key_id=key_id)
        for tag in tags:
            self._db.run(TAG_INSERT, key_id=key_id, **TAG.to_params(tag))
