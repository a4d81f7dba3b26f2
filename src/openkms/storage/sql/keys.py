"""Keys: the ``keys`` table, and the one query of what HSM keys' rows reference in tokens."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, or_, select, union_all, update

from openkms.domain.keys import Key
from openkms.domain.specs import Origin, ProtectionLevel
from openkms.domain.states import KeyState
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Mapper
from openkms.storage.sql.scopes import Scopes

KEY = Mapper(Key, t.keys)
K = t.keys.c
_select = select(*KEY.columns)
_in_scope = (K.account_uid == param("account"), K.region == param("region"))

KEY_GET = _select.where(K.id == param("id"), *_in_scope)
KEY_GET_BY_ID = _select.where(K.id == param("id"))
KEY_INSERT = insert(t.keys).values(KEY.values())
KEY_UPDATE = update(t.keys).where(K.id == param("key_id")).values(KEY.values("id"))
KEY_LIST = _select.where(*_in_scope).order_by(K.created_at, K.id)
KEY_COUNT = select(func.count()).select_from(t.keys).where(*_in_scope)
KEY_DUE = _select.where(
    K.rotation_enabled.is_(True),
    K.state == KeyState.ENABLED.value,
    K.last_rotation_at + K.rotation_interval <= param("now"),
)
KEY_PAST_DELETION = _select.where(K.state == KeyState.PENDING_DELETION.value, K.delete_at <= param("now"))
KEY_STALE_MATERIAL = _select.where(
    K.origin == Origin.EXTERNAL.value,
    K.primary_version_id.is_not(None),
    or_(K.material_expire_at <= param("now"), K.state == KeyState.PENDING_IMPORT.value),
)

PURGE = [
    delete(t.import_tokens).where(t.import_tokens.c.key_id == param("key_id")),
    delete(t.tags).where(t.tags.c.key_id == param("key_id")),
    delete(t.aliases).where(t.aliases.c.key_id == param("key_id")),
    delete(t.key_versions).where(t.key_versions.c.key_id == param("key_id")),
    delete(t.keys).where(K.id == param("key_id")),
]

_HSM = K.protection_level == ProtectionLevel.HSM.value
# The versions' material and the import tokens' wrapping keys of every HSM key (joins on the
# foreign keys to ``keys``). Software keys' sealed material is never read.
HSM_REFERENCES = union_all(
    select(t.key_versions.c.material_ref).join_from(t.key_versions, t.keys).where(_HSM),
    select(t.import_tokens.c.sealed_private_key).join_from(t.import_tokens, t.keys).where(_HSM),
)


class SqlKeys:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, account_uid: str, region: str, key_id: str) -> Key | None:
        self._scopes.lock(account_uid, region)
        return self._db.one_as(KEY_GET, KEY.from_row, id=key_id, account=account_uid, region=region)

    def get_by_id(self, key_id: str) -> Key | None:
        found = self._db.one_as(KEY_GET_BY_ID, KEY.from_row, id=key_id)
        if found is None:
            return None
        # Its scope is known only now: lock it, then read the row again as it stands under the lock.
        return self.get(found.account_uid, found.region, key_id)

    def add(self, key: Key) -> None:
        self._scopes.lock(key.account_uid, key.region)
        self._db.run(KEY_INSERT, **KEY.to_params(key))

    def add_many(self, keys: Sequence[Key]) -> None:
        for scope in dict.fromkeys((k.account_uid, k.region) for k in keys):
            self._scopes.lock(*scope)
        self._db.run_many(KEY_INSERT, [KEY.to_params(k) for k in keys])

    def save(self, key: Key) -> None:
        params = KEY.to_params(key)
        params["key_id"] = params.pop("id")
        self._db.run(KEY_UPDATE, **params)

    def list_in_region(self, account_uid: str, region: str) -> list[Key]:
        return self._db.all_as(KEY_LIST, KEY.from_row, account=account_uid, region=region)

    def count(self, account_uid: str, region: str) -> int:
        self._scopes.lock(account_uid, region)
        return self._db.count(KEY_COUNT, account=account_uid, region=region)

    def due_for_rotation(self, now: int) -> list[Key]:
        return self._db.all_as(KEY_DUE, KEY.from_row, now=now)

    def past_deletion(self, now: int) -> list[Key]:
        return self._db.all_as(KEY_PAST_DELETION, KEY.from_row, now=now)

    def with_stale_material(self, now: int) -> list[Key]:
        return self._db.all_as(KEY_STALE_MATERIAL, KEY.from_row, now=now)

    def purge(self, key_id: str) -> None:
        for stmt in PURGE:
            self._db.run(stmt, key_id=key_id)

    def hsm_references(self) -> set[bytes]:
        return {bytes(r[0]) for r in self._db.all(HSM_REFERENCES) if r[0]}
