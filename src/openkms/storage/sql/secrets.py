"""Secrets: the ``secrets`` and ``secret_versions`` tables. Every call that names a scope locks
it (see scopes.py): a secret's rules (unique names, one ACSCurrent, idempotent VersionIds) are
read, checked and written under the (account, region) lock."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from openkms.domain.secrets import Secret, SecretVersion
from openkms.domain.tags import Tag
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Convert, Mapper
from openkms.storage.sql.scopes import Scopes


def _tags_to_row(tags: tuple[Tag, ...]) -> str:
    return json.dumps([[tag.key, tag.value] for tag in tags], separators=(",", ":"))


def _tags_from_row(text: str) -> tuple[Tag, ...]:
    return tuple(Tag(k, v) for k, v in json.loads(text))


def _stages_to_row(stages: tuple[str, ...]) -> str:
    return json.dumps(list(stages), separators=(",", ":"))


def _stages_from_row(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


SECRET = Mapper(Secret, t.secrets, columns={}, convert={"tags": Convert(_tags_to_row, _tags_from_row)})
VERSION = Mapper(SecretVersion, t.secret_versions, convert={"stages": Convert(_stages_to_row, _stages_from_row)})
S = t.secrets.c
V = t.secret_versions.c
_in_scope = (S.account_uid == param("account"), S.region == param("region"))
_named = (*_in_scope, S.name == param("name"))
_of_secret = (V.account_uid == param("account"), V.region == param("region"), V.secret_name == param("name"))

SECRET_GET = select(*SECRET.columns).where(*_named)
SECRET_INSERT = insert(t.secrets).values(SECRET.values())
SECRET_UPDATE = (
    update(t.secrets)
    .where(S.account_uid == param("account_uid"), S.region == param("region"), S.name == param("name"))
    .values(SECRET.values("account_uid", "region", "name"))
)
SECRET_LIST = select(*SECRET.columns).where(*_in_scope).order_by(S.created_at, S.name)
SECRET_COUNT = select(func.count()).select_from(t.secrets).where(*_in_scope)
SECRET_PAST_DELETION = select(*SECRET.columns).where(S.delete_at <= param("now"))
SECRET_DUE = select(*SECRET.columns).where(
    S.rotation_enabled.is_(True), S.next_rotation_at <= param("now"), S.delete_at.is_(None)
)
SECRET_TO_RETIRE = select(*SECRET.columns).where(S.retire_at <= param("now"), S.delete_at.is_(None))
SECRET_DELETE = delete(t.secrets).where(*_named)
VERSION_LIST = select(*VERSION.columns).where(*_of_secret).order_by(V.created_at, V.version_id)
VERSION_INSERT = insert(t.secret_versions).values(VERSION.values())
VERSION_STAGES = (
    update(t.secret_versions).where(*_of_secret, V.version_id == param("version")).values(stages=param("stages"))
)
VERSION_DELETE = delete(t.secret_versions).where(*_of_secret, V.version_id == param("version"))
VERSIONS_DELETE = delete(t.secret_versions).where(*_of_secret)


def _at(secret: Secret) -> dict[str, Any]:
    return {"account": secret.account_uid, "region": secret.region, "name": secret.name}


class SqlSecrets:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, account_uid: str, region: str, name: str) -> Secret | None:
        self._scopes.lock(account_uid, region)
        return self._db.one_as(SECRET_GET, SECRET.from_row, account=account_uid, region=region, name=name)

    def add(self, secret: Secret) -> None:
        self._scopes.lock(secret.account_uid, secret.region)
        self._db.run(SECRET_INSERT, **SECRET.to_params(secret))

    def save(self, secret: Secret) -> None:
        self._scopes.lock(secret.account_uid, secret.region)
        self._db.run(SECRET_UPDATE, **SECRET.to_params(secret))

    def list_in_region(self, account_uid: str, region: str) -> list[Secret]:
        return self._db.all_as(SECRET_LIST, SECRET.from_row, account=account_uid, region=region)

    def count(self, account_uid: str, region: str) -> int:
        self._scopes.lock(account_uid, region)
        return self._db.count(SECRET_COUNT, account=account_uid, region=region)

    def past_deletion(self, now: int) -> list[Secret]:
        return self._db.all_as(SECRET_PAST_DELETION, SECRET.from_row, now=now)

    def due_for_rotation(self, now: int) -> list[Secret]:
        return self._db.all_as(SECRET_DUE, SECRET.from_row, now=now)

    def to_retire(self, now: int) -> list[Secret]:
        return self._db.all_as(SECRET_TO_RETIRE, SECRET.from_row, now=now)

    def purge(self, secret: Secret) -> None:
        self._scopes.lock(secret.account_uid, secret.region)
        self._db.run(VERSIONS_DELETE, **_at(secret))
        self._db.run(SECRET_DELETE, **_at(secret))

    def versions(self, secret: Secret) -> list[SecretVersion]:
        self._scopes.lock(secret.account_uid, secret.region)
        return self._db.all_as(VERSION_LIST, VERSION.from_row, **_at(secret))

    def add_version(self, version: SecretVersion) -> None:
        self._scopes.lock(version.account_uid, version.region)
        self._db.run(VERSION_INSERT, **VERSION.to_params(version))

    def set_stages(self, secret: Secret, version_id: str, stages: tuple[str, ...]) -> None:
        self._scopes.lock(secret.account_uid, secret.region)
        self._db.run(VERSION_STAGES, **_at(secret), version=version_id, stages=_stages_to_row(stages))

    def delete_version(self, secret: Secret, version_id: str) -> None:
        self._scopes.lock(secret.account_uid, secret.region)
        self._db.run(VERSION_DELETE, **_at(secret), version=version_id)
