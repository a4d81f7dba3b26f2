"""Import tokens: the ``import_tokens`` table, wrapping keys issued for bring-your-own-key."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from openkms.domain.importing import ImportToken
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Mapper

TOKEN = Mapper(ImportToken, t.import_tokens)
IT = t.import_tokens.c
_select = select(*TOKEN.columns)

TOKEN_GET = _select.where(IT.id == param("id"))
TOKEN_INSERT = insert(t.import_tokens).values(TOKEN.values())
TOKEN_DELETE = delete(t.import_tokens).where(IT.id == param("id"))
TOKEN_EXPIRED = _select.where(IT.expires_at <= param("now"))
TOKEN_FOR_KEY = _select.where(IT.key_id == param("key_id"))


class SqlImportTokens:
    def __init__(self, db: Db) -> None:
        self._db = db

    def add(self, token: ImportToken) -> None:
        self._db.run(TOKEN_INSERT, **TOKEN.to_params(token))

    def get(self, token_id: str) -> ImportToken | None:
        return self._db.one_as(TOKEN_GET, TOKEN.from_row, id=token_id)

    def expired(self, now: int) -> list[ImportToken]:
        return self._db.all_as(TOKEN_EXPIRED, TOKEN.from_row, now=now)

    def for_key(self, key_id: str) -> list[ImportToken]:
        return self._db.all_as(TOKEN_FOR_KEY, TOKEN.from_row, key_id=key_id)

    def delete(self, token_id: str) -> None:
        self._db.run(TOKEN_DELETE, id=token_id)
