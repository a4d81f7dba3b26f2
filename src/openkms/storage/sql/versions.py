"""Key versions: the ``key_versions`` table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update

from openkms.domain.keys import KeyVersion
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Mapper

VERSION = Mapper(KeyVersion, t.key_versions)
V = t.key_versions.c
_select = select(*VERSION.columns)

VERSION_GET = _select.where(V.id == param("id"))
VERSION_LIST = _select.where(V.key_id == param("key_id")).order_by(V.created_at.desc(), V.id.desc())
VERSION_SET_MATERIAL = update(t.key_versions).where(V.id == param("id")).values(material_ref=param("material_ref"))
VERSION_INSERT = insert(t.key_versions).values(VERSION.values())


class SqlVersions:
    def __init__(self, db: Db) -> None:
        self._db = db

    def add(self, v: KeyVersion) -> None:
        self._db.run(VERSION_INSERT, **VERSION.to_params(v))

    def add_many(self, versions: Sequence[KeyVersion]) -> None:
        self._db.run_many(VERSION_INSERT, [VERSION.to_params(v) for v in versions])

    def set_material(self, version_id: str, material_ref: bytes) -> None:
        self._db.run(VERSION_SET_MATERIAL, id=version_id, material_ref=material_ref)

    def get(self, version_id: str) -> KeyVersion | None:
        return self._db.one_as(VERSION_GET, VERSION.from_row, id=version_id)

    def list_for_key(self, key_id: str) -> list[KeyVersion]:
        return self._db.all_as(VERSION_LIST, VERSION.from_row, key_id=key_id)
