"""Application access: the ``app_access_points``, ``app_policies``, ``app_network_rules`` and
``client_keys`` tables. Writes lock the (account, region) scope, as secrets' do, so that a name's
uniqueness and "in use" are checked and written under one lock."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from sqlalchemy import Table, delete, insert, select, update

from openkms.domain.app_access import AccessPoint, AppPolicy, ClientKey, NetworkRule
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Convert, Mapper
from openkms.storage.sql.scopes import Scopes


def _to_row(items: tuple[str, ...]) -> str:
    return json.dumps(list(items), separators=(",", ":"))


def _from_row(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


LIST = Convert(_to_row, _from_row)
Named = TypeVar("Named", AccessPoint, AppPolicy, NetworkRule)


class _Statements:
    """get / insert / update / delete / list of one named kind, compiled once."""

    def __init__(self, mapper: Mapper[Any], table: Table) -> None:
        c = table.c
        scope = (c.account_uid == param("account"), c.region == param("region"))
        named = (*scope, c.name == param("name"))
        self.mapper = mapper
        self.get = select(*mapper.columns).where(*named)
        self.insert = insert(table).values(mapper.values())
        self.update = (
            update(table)
            .where(c.account_uid == param("account_uid"), c.region == param("region"), c.name == param("name"))
            .values(mapper.values("account_uid", "region", "name"))
        )
        self.delete = delete(table).where(*named)
        self.list = select(*mapper.columns).where(*scope).order_by(c.created_at, c.name)


_KINDS: dict[type[Any], _Statements] = {
    AccessPoint: _Statements(Mapper(AccessPoint, t.app_access_points, convert={"policies": LIST}), t.app_access_points),
    AppPolicy: _Statements(
        Mapper(AppPolicy, t.app_policies, convert={"permissions": LIST, "resources": LIST, "network_rules": LIST}),
        t.app_policies,
    ),
    NetworkRule: _Statements(
        Mapper(NetworkRule, t.app_network_rules, convert={"source_private_ip": LIST}), t.app_network_rules
    ),
}
CLIENT_KEY = Mapper(ClientKey, t.client_keys)
CK = t.client_keys.c
CK_GET = select(*CLIENT_KEY.columns).where(CK.id == param("id"))
CK_INSERT = insert(t.client_keys).values(CLIENT_KEY.values())
CK_DELETE = delete(t.client_keys).where(CK.id == param("id"))
CK_LIST = (
    select(*CLIENT_KEY.columns)
    .where(CK.account_uid == param("account"), CK.region == param("region"), CK.aap_name == param("aap"))
    .order_by(CK.created_at, CK.id)
)


class SqlAppAccess:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, kind: type[Named], account_uid: str, region: str, name: str) -> Named | None:
        self._scopes.lock(account_uid, region)
        s = _KINDS[kind]
        found: Named | None = self._db.one_as(s.get, s.mapper.from_row, account=account_uid, region=region, name=name)
        return found

    def list_all(self, kind: type[Named], account_uid: str, region: str) -> list[Named]:
        s = _KINDS[kind]
        found: list[Named] = self._db.all_as(s.list, s.mapper.from_row, account=account_uid, region=region)
        return found

    def add(self, item: AccessPoint | AppPolicy | NetworkRule) -> None:
        self._scopes.lock(item.account_uid, item.region)
        s = _KINDS[type(item)]
        self._db.run(s.insert, **s.mapper.to_params(item))

    def save(self, item: AccessPoint | AppPolicy | NetworkRule) -> None:
        self._scopes.lock(item.account_uid, item.region)
        s = _KINDS[type(item)]
        self._db.run(s.update, **s.mapper.to_params(item))

    def delete(self, item: AccessPoint | AppPolicy | NetworkRule) -> None:
        self._scopes.lock(item.account_uid, item.region)
        s = _KINDS[type(item)]
        self._db.run(s.delete, account=item.account_uid, region=item.region, name=item.name)

    def client_key(self, key_id: str) -> ClientKey | None:
        return self._db.one_as(CK_GET, CLIENT_KEY.from_row, id=key_id)

    def client_keys(self, account_uid: str, region: str, aap_name: str) -> list[ClientKey]:
        return self._db.all_as(CK_LIST, CLIENT_KEY.from_row, account=account_uid, region=region, aap=aap_name)

    def add_client_key(self, key: ClientKey) -> None:
        self._scopes.lock(key.account_uid, key.region)
        self._db.run(CK_INSERT, **CLIENT_KEY.to_params(key))

    def delete_client_key(self, key: ClientKey) -> None:
        self._scopes.lock(key.account_uid, key.region)
        self._db.run(CK_DELETE, id=key.id)
