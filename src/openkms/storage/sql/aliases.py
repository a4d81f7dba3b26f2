"""Aliases: the ``aliases`` table. Every call that names a scope locks it (see scopes.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select, update

from openkms.domain.aliases import Alias
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Mapper
from openkms.storage.sql.scopes import Scopes

ALIAS = Mapper(Alias, t.aliases)
A = t.aliases.c
_select = select(*ALIAS.columns)
_in_scope = (A.account_uid == param("account"), A.region == param("region"))
_named = (*_in_scope, A.name == param("name"))

ALIAS_GET = _select.where(*_named)
ALIAS_INSERT = insert(t.aliases).values(ALIAS.values())
ALIAS_RETARGET = update(t.aliases).where(*_named).values(key_id=param("key_id"))
ALIAS_DELETE = delete(t.aliases).where(*_named)
ALIAS_LIST = _select.where(*_in_scope).order_by(A.created_at, A.name)
ALIAS_LIST_KEY = _select.where(A.key_id == param("key_id")).order_by(A.created_at, A.name)
ALIAS_COUNT = select(func.count()).select_from(t.aliases).where(*_in_scope)


class SqlAliases:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, account_uid: str, region: str, name: str) -> Alias | None:
        self._scopes.lock(account_uid, region)
        return self._db.one_as(ALIAS_GET, ALIAS.from_row, account=account_uid, region=region, name=name)

    def add(self, a: Alias) -> None:
        self._scopes.lock(a.account_uid, a.region)
        self._db.run(ALIAS_INSERT, **ALIAS.to_params(a))

    def add_many(self, aliases: Sequence[Alias]) -> None:
        for scope in dict.fromkeys((a.account_uid, a.region) for a in aliases):
            self._scopes.lock(*scope)
        self._db.run_many(ALIAS_INSERT, [ALIAS.to_params(a) for a in aliases])

    def retarget(self, a: Alias, key_id: str) -> None:
        self._scopes.lock(a.account_uid, a.region)
        self._db.run(ALIAS_RETARGET, account=a.account_uid, region=a.region, name=a.name, key_id=key_id)

    def delete(self, a: Alias) -> None:
        self._scopes.lock(a.account_uid, a.region)
        self._db.run(ALIAS_DELETE, account=a.account_uid, region=a.region, name=a.name)

    def list_in_region(self, account_uid: str, region: str) -> list[Alias]:
        return self._db.all_as(ALIAS_LIST, ALIAS.from_row, account=account_uid, region=region)

    def list_for_key(self, key_id: str) -> list[Alias]:
        return self._db.all_as(ALIAS_LIST_KEY, ALIAS.from_row, key_id=key_id)

    def count(self, account_uid: str, region: str) -> int:
        self._scopes.lock(account_uid, region)
        return self._db.count(ALIAS_COUNT, account=account_uid, region=region)
