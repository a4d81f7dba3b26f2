"""Accounts and their AccessKey pairs: the ``accounts`` and ``access_keys`` tables."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from openkms.domain.identity import AccessKey, Account
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Mapper
from openkms.storage.sql.ram import RAM_SCOPE
from openkms.storage.sql.scopes import Scopes

ACCOUNT = Mapper(Account, t.accounts)
AC = t.accounts.c
ACCOUNT_GET = select(*ACCOUNT.columns).where(AC.uid == param("uid"))
ACCOUNT_LIST = select(*ACCOUNT.columns).order_by(AC.created_at, AC.uid)
ACCOUNT_INSERT = insert(t.accounts).values(ACCOUNT.values())

ACCESS_KEY = Mapper(AccessKey, t.access_keys)
AK = t.access_keys.c
AK_GET = select(*ACCESS_KEY.columns).where(AK.id == param("id"))
AK_GET_FOR_UPDATE = AK_GET.with_for_update()
AK_LIST = select(*ACCESS_KEY.columns).order_by(AK.created_at, AK.id)
AK_LIST_USER = AK_LIST.where(AK.account_uid == param("account"), AK.user_name == param("user"))
AK_INSERT = insert(t.access_keys).values(ACCESS_KEY.values())
# A pair keeps its id, account and creation time: only these change (a RAM user may be renamed).
AK_UPDATE = (
    update(t.access_keys)
    .where(AK.id == param("id"))
    .values({name: param(name) for name in ("sealed_secret", "status", "description", "user_name")})
)
AK_DELETE = delete(t.access_keys).where(AK.id == param("id"))


class SqlAccounts:
    def __init__(self, db: Db) -> None:
        self._db = db

    def get(self, uid: str) -> Account | None:
        return self._db.one_as(ACCOUNT_GET, ACCOUNT.from_row, uid=uid)

    def add(self, account: Account) -> None:
        self._db.run(ACCOUNT_INSERT, **ACCOUNT.to_params(account))

    def list_all(self) -> list[Account]:
        return self._db.all_as(ACCOUNT_LIST, ACCOUNT.from_row)


class SqlAccessKeys:
    def __init__(self, db: Db, scopes: Scopes, for_update: bool = False) -> None:
        self._db = db
        self._scopes = scopes
        self._get = AK_GET_FOR_UPDATE if for_update else AK_GET

    def get(self, access_key_id: str) -> AccessKey | None:
        return self._db.one_as(self._get, ACCESS_KEY.from_row, id=access_key_id)

    def add(self, ak: AccessKey) -> None:
        self._db.run(AK_INSERT, **ACCESS_KEY.to_params(ak))

    def save(self, ak: AccessKey) -> None:
        self._db.run(AK_UPDATE, **ACCESS_KEY.to_params(ak))

    def delete(self, access_key_id: str) -> None:
        self._db.run(AK_DELETE, id=access_key_id)

    def list_all(self) -> list[AccessKey]:
        return self._db.all_as(AK_LIST, ACCESS_KEY.from_row)

    def list_for_user(self, account_uid: str, user_name: str) -> list[AccessKey]:
        # A RAM user's keys are counted against its limit: the account's RAM scope, as every RAM write.
        self._scopes.lock(account_uid, RAM_SCOPE)
        return self._db.all_as(AK_LIST_USER, ACCESS_KEY.from_row, account=account_uid, user=user_name)
