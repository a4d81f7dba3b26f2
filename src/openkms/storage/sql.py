"""Repositories over plain DBAPI calls, with SQL written once as SQLAlchemy Core statements.

Each statement is compiled once per dialect (SQLite, PostgreSQL) into the driver's own SQL and
then executed on the driver connection directly: the request path of a KMS runs a few indexed
lookups per call, and SQLAlchemy's per-execution machinery cost more than the lookups themselves
(measured: about 90 of 690 microseconds per Encrypt went to SQL work, 400 to SQLAlchemy).
Transactions, pooling, dialects and migrations stay with SQLAlchemy and Alembic.

Every write is the outcome of some serial order. A write unit of work takes a lock on the
(account, region) scope of the first key, alias or count it touches, before reading it, and holds
it to commit or rollback: every rule that reads, checks and writes (states, spacing, quotas, alias
names, material binding, rotation due) then sees the last committed change of its scope. On
PostgreSQL the lock is a transaction-scoped advisory lock (rows that do not exist yet, such as the
21st key of a quota, are covered too); SQLite serialises every writer with ``BEGIN IMMEDIATE`` and
needs none. Lock order is scope before rows, and a caller's transaction stays in one scope, so
writers cannot deadlock. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Dialect, Engine, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from openkms.domain import errors
from openkms.domain.aliases import Alias
from openkms.domain.identity import AccessKey, AccessKeyStatus, Account
from openkms.domain.importing import ImportToken
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.specs import KeyUsage, Origin, ProtectionLevel
from openkms.domain.states import KeyState
from openkms.domain.tags import Tag
from openkms.storage import schema as t
from openkms.storage.references import HSM_REFERENCES

Mapped = TypeVar("Mapped")

# --- statements ---------------------------------------------------------------------------------

K = t.keys.c
KEY_COLUMNS = [c.name for c in t.keys.columns]
_key_select = select(*t.keys.columns)
_key_values: dict[str, Any] = {name: bindparam(name) for name in KEY_COLUMNS}


def _p(name: str) -> Any:
    return bindparam(name)


KEY_GET = _key_select.where(K.id == _p("id"), K.account_uid == _p("account"), K.region == _p("region"))
KEY_GET_BY_ID = _key_select.where(K.id == _p("id"))
KEY_INSERT = insert(t.keys).values(_key_values)
KEY_UPDATE = update(t.keys).where(K.id == _p("key_id")).values({n: v for n, v in _key_values.items() if n != "id"})
KEY_LIST = _key_select.where(K.account_uid == _p("account"), K.region == _p("region")).order_by(K.created_at, K.id)
KEY_COUNT = select(func.count()).select_from(t.keys).where(K.account_uid == _p("account"), K.region == _p("region"))
KEY_DUE = _key_select.where(
    K.rotation_enabled.is_(True),
    K.state == KeyState.ENABLED.value,
    K.last_rotation_at + K.rotation_interval <= _p("now"),
)
KEY_PAST_DELETION = _key_select.where(K.state == KeyState.PENDING_DELETION.value, K.delete_at <= _p("now"))
KEY_STALE_MATERIAL = _key_select.where(
    K.origin == Origin.EXTERNAL.value,
    K.primary_version_id.is_not(None),
    or_(K.material_expire_at <= _p("now"), K.state == KeyState.PENDING_IMPORT.value),
)
# The scope lock on PostgreSQL: held until the transaction ends. Two keys of one namespace, so it
# cannot collide with advisory locks another application takes with one key.
SCOPE_LOCK_NAMESPACE = 0x6F6B6D73  # "okms"
POSTGRES_SCOPE_LOCK = select(func.pg_advisory_xact_lock(_p("namespace"), func.hashtext(_p("scope"))))

PURGE = [
    delete(t.import_tokens).where(t.import_tokens.c.key_id == _p("key_id")),
    delete(t.tags).where(t.tags.c.key_id == _p("key_id")),
    delete(t.aliases).where(t.aliases.c.key_id == _p("key_id")),
    delete(t.key_versions).where(t.key_versions.c.key_id == _p("key_id")),
    delete(t.keys).where(K.id == _p("key_id")),
]

V = t.key_versions.c
_version_select = select(V.id, V.key_id, V.created_at, V.material_ref, V.public_key)
VERSION_GET = _version_select.where(V.id == _p("id"))
VERSION_LIST = _version_select.where(V.key_id == _p("key_id")).order_by(V.created_at.desc(), V.id.desc())
VERSION_SET_MATERIAL = update(t.key_versions).where(V.id == _p("id")).values(material_ref=_p("material_ref"))
VERSION_INSERT = insert(t.key_versions).values(
    id=_p("id"),
    key_id=_p("key_id"),
    created_at=_p("created_at"),
    material_ref=_p("material_ref"),
    public_key=_p("public_key"),
)

A = t.aliases.c
_alias_select = select(A.name, A.key_id, A.account_uid, A.region, A.created_at)
_alias_where = (A.account_uid == _p("account"), A.region == _p("region"), A.name == _p("name"))
ALIAS_GET = _alias_select.where(*_alias_where)
ALIAS_INSERT = insert(t.aliases).values(
    account_uid=_p("account"), region=_p("region"), name=_p("name"), key_id=_p("key_id"), created_at=_p("created_at")
)
ALIAS_RETARGET = update(t.aliases).where(*_alias_where).values(key_id=_p("key_id"))
ALIAS_DELETE = delete(t.aliases).where(*_alias_where)
ALIAS_LIST = _alias_select.where(A.account_uid == _p("account"), A.region == _p("region")).order_by(
    A.created_at, A.name
)
ALIAS_LIST_KEY = _alias_select.where(A.key_id == _p("key_id")).order_by(A.created_at, A.name)
ALIAS_COUNT = (
    select(func.count()).select_from(t.aliases).where(A.account_uid == _p("account"), A.region == _p("region"))
)

T = t.tags.c
TAG_LIST = select(T.tag_key, T.tag_value).where(T.key_id == _p("key_id")).order_by(T.tag_key)
TAG_LIST_REGION = (
    select(T.key_id, T.tag_key, T.tag_value)
    .join(t.keys, K.id == T.key_id)
    .where(K.account_uid == _p("account"), K.region == _p("region"))
    .order_by(T.key_id, T.tag_key)
)
TAG_CLEAR = delete(t.tags).where(T.key_id == _p("key_id"))
TAG_INSERT = insert(t.tags).values(key_id=_p("key_id"), tag_key=_p("tag_key"), tag_value=_p("tag_value"))

IT = t.import_tokens.c
_token_columns = [c.name for c in t.import_tokens.columns]
TOKEN_GET = select(*t.import_tokens.columns).where(IT.id == _p("id"))
TOKEN_INSERT = insert(t.import_tokens).values({n: bindparam(n) for n in _token_columns})
TOKEN_DELETE = delete(t.import_tokens).where(IT.id == _p("id"))
TOKEN_EXPIRED = select(*t.import_tokens.columns).where(IT.expires_at <= _p("now"))
TOKEN_FOR_KEY = select(*t.import_tokens.columns).where(IT.key_id == _p("key_id"))

AC = t.accounts.c
ACCOUNT_GET = select(AC.uid, AC.created_at).where(AC.uid == _p("uid"))
ACCOUNT_LIST = select(AC.uid, AC.created_at).order_by(AC.created_at, AC.uid)
ACCOUNT_INSERT = insert(t.accounts).values(uid=_p("uid"), created_at=_p("created_at"))

AK = t.access_keys.c
_ak_select = select(AK.id, AK.account_uid, AK.sealed_secret, AK.status, AK.created_at, AK.description)
AK_GET = _ak_select.where(AK.id == _p("id"))
AK_GET_FOR_UPDATE = AK_GET.with_for_update()
AK_LIST = _ak_select.order_by(AK.created_at, AK.id)
AK_INSERT = insert(t.access_keys).values(
    id=_p("id"),
    account_uid=_p("account_uid"),
    sealed_secret=_p("sealed_secret"),
    status=_p("status"),
    created_at=_p("created_at"),
    description=_p("description"),
)
AK_UPDATE = (
    update(t.access_keys)
    .where(AK.id == _p("id"))
    .values(sealed_secret=_p("sealed_secret"), status=_p("status"), description=_p("description"))
)
AK_DELETE = delete(t.access_keys).where(AK.id == _p("id"))


# --- execution ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positions: tuple[str, ...] | None  # None for named paramstyles
    defaults: dict[str, Any]  # values of literals in the statement (e.g. a state name)


class Statements:
    """Statements compiled to one dialect's SQL, once."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._cache: dict[int, _Compiled] = {}

    def get(self, stmt: ClauseElement) -> _Compiled:
        found = self._cache.get(id(stmt))
        if found is None:
            compiled = stmt.compile(dialect=self._dialect)
            assert isinstance(compiled, SQLCompiler)
            positions = tuple(compiled.positiontup or ()) if compiled.positional else None
            defaults = {k: v for k, v in compiled.params.items() if v is not None}
            found = _Compiled(str(compiled), positions, defaults)
            self._cache[id(stmt)] = found
        return found


class Db:
    """Runs compiled statements on one driver connection."""

    def __init__(self, driver_conn: Any, statements: Statements) -> None:
        self._conn = driver_conn
        self._stmts = statements

    def _run(self, stmt: ClauseElement, params: dict[str, Any]) -> Any:
        c = self._stmts.get(stmt)
        if c.defaults:
            params = {**c.defaults, **params}
        cur = self._conn.cursor()
        cur.execute(c.sql, [params[n] for n in c.positions] if c.positions is not None else params)
        return cur

    def one(self, stmt: ClauseElement, **params: Any) -> Sequence[Any] | None:
        cur = self._run(stmt, params)
        row = cur.fetchone()
        cur.close()
        return row  # type: ignore[no-any-return]

    def all(self, stmt: ClauseElement, **params: Any) -> list[Sequence[Any]]:
        cur = self._run(stmt, params)
        rows = cur.fetchall()
        cur.close()
        return list(rows)

    def one_as(self, stmt: ClauseElement, to: Callable[[Sequence[Any]], Mapped], **params: Any) -> Mapped | None:
        """The row mapped to a domain object (frozen dataclasses: safe to share)."""
        row = Db.one(self, stmt, **params)
        return to(row) if row else None

    def run(self, stmt: ClauseElement, **params: Any) -> None:
        self._run(stmt, params).close()


_MEMO_LIMIT = 4096


class MemoDb(Db):
    """A read-only Db that remembers query results until ``forget`` is called.

    The owner calls ``forget`` whenever the database may have changed since the results were
    read (on SQLite: whenever ``PRAGMA data_version`` moves). Rows are tuples, so a remembered
    result cannot be altered by its reader.
    """

    def __init__(self, driver_conn: Any, statements: Statements) -> None:
        super().__init__(driver_conn, statements)
        self._memo: dict[tuple[Any, ...], Any] = {}

    def forget(self) -> None:
        self._memo.clear()

    def _remembered(self, kind: object, fetch: Any, stmt: ClauseElement, params: dict[str, Any]) -> Any:
        try:
            key = (id(stmt), (kind, *sorted(params.items())))
            found = self._memo.get(key, _MISSING)
        except TypeError:  # an unhashable parameter (a list for IN): not worth remembering
            return fetch(stmt, **params)
        if found is _MISSING:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            found = self._memo[key] = fetch(stmt, **params)
        return found

    def one(self, stmt: ClauseElement, **params: Any) -> Sequence[Any] | None:
        return self._remembered("one", super().one, stmt, params)  # type: ignore[no-any-return]

    def one_as(self, stmt: ClauseElement, to: Callable[[Sequence[Any]], Mapped], **params: Any) -> Mapped | None:
        # Remembers the domain object itself: mapping a row costs as much as reading it.
        fetch = partial(Db.one_as, self, to=to)
        return self._remembered(to, fetch, stmt, params)  # type: ignore[no-any-return]

    def all(self, stmt: ClauseElement, **params: Any) -> list[Sequence[Any]]:
        return list(self._remembered("all", super().all, stmt, params))

    def run(self, stmt: ClauseElement, **params: Any) -> None:
        raise TypeError("a read unit of work does not write")


_MISSING = object()


# --- mapping ------------------------------------------------------------------------------------


def _key(r: Sequence[Any]) -> Key:
    v = dict(zip(KEY_COLUMNS, r, strict=True))
    return Key(
        id=v["id"],
        account_uid=v["account_uid"],
        region=v["region"],
        spec=v["spec"],
        usage=KeyUsage(v["usage"]),
        origin=Origin(v["origin"]),
        protection_level=ProtectionLevel(v["protection_level"]),
        state=KeyState(v["state"]),
        created_at=v["created_at"],
        creator=v["creator"],
        description=v["description"],
        primary_version_id=v["primary_version_id"],
        last_rotation_at=v["last_rotation_at"],
        rotation_enabled=bool(v["rotation_enabled"]),
        rotation_interval=v["rotation_interval"],
        delete_at=v["delete_at"],
        material_expire_at=v["material_expire_at"],
        deletion_protection=bool(v["deletion_protection"]),
        deletion_protection_description=v["deletion_protection_description"],
        policy=v["policy"],
        key_store_id=v["key_store_id"],
        material_fingerprint=bytes(v["material_fingerprint"]) if v["material_fingerprint"] is not None else None,
    )


def _key_params(k: Key) -> dict[str, Any]:
    return {
        "id": k.id,
        "account_uid": k.account_uid,
        "region": k.region,
        "spec": k.spec,
        "usage": k.usage.value,
        "origin": k.origin.value,
        "protection_level": k.protection_level.value,
        "state": k.state.value,
        "created_at": k.created_at,
        "creator": k.creator,
        "description": k.description,
        "primary_version_id": k.primary_version_id,
        "last_rotation_at": k.last_rotation_at,
        "rotation_enabled": k.rotation_enabled,
        "rotation_interval": k.rotation_interval,
        "delete_at": k.delete_at,
        "material_expire_at": k.material_expire_at,
        "deletion_protection": k.deletion_protection,
        "deletion_protection_description": k.deletion_protection_description,
        "policy": k.policy,
        "key_store_id": k.key_store_id,
        "material_fingerprint": k.material_fingerprint,
    }


def _version(r: Sequence[Any]) -> KeyVersion:
    return KeyVersion(r[0], r[1], r[2], bytes(r[3]), bytes(r[4]) if r[4] is not None else None)


def _alias(r: Sequence[Any]) -> Alias:
    return Alias(r[0], r[1], r[2], r[3], r[4])


def _access_key(r: Sequence[Any]) -> AccessKey:
    return AccessKey(r[0], r[1], bytes(r[2]), AccessKeyStatus(r[3]), r[4], r[5])


# --- repositories -------------------------------------------------------------------------------


class Scopes:
    """The (account, region) scopes a write unit of work has locked (see the module docstring).

    ``statement`` is None where the engine already serialises writers (SQLite), and for reads.
    """

    def __init__(self, db: Db, statement: ClauseElement | None) -> None:
        self._db = db
        self._statement = statement
        self._held: set[tuple[str, str]] = set()

    def lock(self, account_uid: str, region: str) -> None:
        if self._statement is None or (account_uid, region) in self._held:
            return
        self._db.run(self._statement, namespace=SCOPE_LOCK_NAMESPACE, scope=f"{account_uid}/{region}")
        self._held.add((account_uid, region))


class SqlKeys:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, account_uid: str, region: str, key_id: str) -> Key | None:
        self._scopes.lock(account_uid, region)
        return self._db.one_as(KEY_GET, _key, id=key_id, account=account_uid, region=region)

    def get_by_id(self, key_id: str) -> Key | None:
        found = self._db.one_as(KEY_GET_BY_ID, _key, id=key_id)
        if found is None:
            return None
        # Its scope is known only now: lock it, then read the row again as it stands under the lock.
        return self.get(found.account_uid, found.region, key_id)

    def add(self, key: Key) -> None:
        self._scopes.lock(key.account_uid, key.region)
        self._db.run(KEY_INSERT, **_key_params(key))

    def save(self, key: Key) -> None:
        params = _key_params(key)
        params["key_id"] = params.pop("id")
        self._db.run(KEY_UPDATE, **params)

    def list_in_region(self, account_uid: str, region: str) -> list[Key]:
        return [_key(r) for r in self._db.all(KEY_LIST, account=account_uid, region=region)]

    def count(self, account_uid: str, region: str) -> int:
        self._scopes.lock(account_uid, region)
        row = self._db.one(KEY_COUNT, account=account_uid, region=region)
        return int(row[0]) if row else 0

    def due_for_rotation(self, now: int) -> list[Key]:
        return [_key(r) for r in self._db.all(KEY_DUE, now=now)]

    def past_deletion(self, now: int) -> list[Key]:
        return [_key(r) for r in self._db.all(KEY_PAST_DELETION, now=now)]

    def with_stale_material(self, now: int) -> list[Key]:
        return [_key(r) for r in self._db.all(KEY_STALE_MATERIAL, now=now)]

    def purge(self, key_id: str) -> None:
        for stmt in PURGE:
            self._db.run(stmt, key_id=key_id)

    def hsm_references(self) -> set[bytes]:
        return {bytes(r[0]) for r in self._db.all(HSM_REFERENCES) if r[0]}


class SqlVersions:
    def __init__(self, db: Db) -> None:
        self._db = db

    def add(self, v: KeyVersion) -> None:
        self._db.run(
            VERSION_INSERT,
            id=v.id,
            key_id=v.key_id,
            created_at=v.created_at,
            material_ref=v.material_ref,
            public_key=v.public_key,
        )

    def set_material(self, version_id: str, material_ref: bytes) -> None:
        self._db.run(VERSION_SET_MATERIAL, id=version_id, material_ref=material_ref)

    def get(self, version_id: str) -> KeyVersion | None:
        return self._db.one_as(VERSION_GET, _version, id=version_id)

    def list_for_key(self, key_id: str) -> list[KeyVersion]:
        return [_version(r) for r in self._db.all(VERSION_LIST, key_id=key_id)]


class SqlAliases:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, account_uid: str, region: str, name: str) -> Alias | None:
        self._scopes.lock(account_uid, region)
        return self._db.one_as(ALIAS_GET, _alias, account=account_uid, region=region, name=name)

    def add(self, a: Alias) -> None:
        self._scopes.lock(a.account_uid, a.region)
        self._db.run(
            ALIAS_INSERT, account=a.account_uid, region=a.region, name=a.name, key_id=a.key_id, created_at=a.created_at
        )

    def retarget(self, a: Alias, key_id: str) -> None:
        self._scopes.lock(a.account_uid, a.region)
        self._db.run(ALIAS_RETARGET, account=a.account_uid, region=a.region, name=a.name, key_id=key_id)

    def delete(self, a: Alias) -> None:
        self._scopes.lock(a.account_uid, a.region)
        self._db.run(ALIAS_DELETE, account=a.account_uid, region=a.region, name=a.name)

    def list_in_region(self, account_uid: str, region: str) -> list[Alias]:
        return [_alias(r) for r in self._db.all(ALIAS_LIST, account=account_uid, region=region)]

    def list_for_key(self, key_id: str) -> list[Alias]:
        return [_alias(r) for r in self._db.all(ALIAS_LIST_KEY, key_id=key_id)]

    def count(self, account_uid: str, region: str) -> int:
        self._scopes.lock(account_uid, region)
        row = self._db.one(ALIAS_COUNT, account=account_uid, region=region)
        return int(row[0]) if row else 0


class SqlTags:
    def __init__(self, db: Db) -> None:
        self._db = db

    def for_key(self, key_id: str) -> list[Tag]:
        return [Tag(r[0], r[1]) for r in self._db.all(TAG_LIST, key_id=key_id)]

    def list_for_region(self, account_uid: str, region: str) -> dict[str, list[Tag]]:
        out: dict[str, list[Tag]] = {}
        for r in self._db.all(TAG_LIST_REGION, account=account_uid, region=region):
            out.setdefault(r[0], []).append(Tag(r[1], r[2]))
        return out

    def replace(self, key_id: str, tags: list[Tag]) -> None:
        self._db.run(TAG_CLEAR, key_id=key_id)
        for tag in tags:
            self._db.run(TAG_INSERT, key_id=key_id, tag_key=tag.key, tag_value=tag.value)


def _token(row: Sequence[Any]) -> ImportToken:
    v = dict(zip(_token_columns, row, strict=True))
    v["sealed_private_key"] = bytes(v["sealed_private_key"])
    v["public_key"] = bytes(v["public_key"])
    return ImportToken(**v)


class SqlImportTokens:
    def __init__(self, db: Db) -> None:
        self._db = db

    def add(self, token: ImportToken) -> None:
        self._db.run(
            TOKEN_INSERT,
            id=token.id,
            key_id=token.key_id,
            wrapping_spec=token.wrapping_spec,
            wrapping_algorithm=token.wrapping_algorithm,
            sealed_private_key=token.sealed_private_key,
            public_key=token.public_key,
            created_at=token.created_at,
            expires_at=token.expires_at,
        )

    def get(self, token_id: str) -> ImportToken | None:
        row = self._db.one(TOKEN_GET, id=token_id)
        return _token(row) if row is not None else None

    def expired(self, now: int) -> list[ImportToken]:
        return [_token(r) for r in self._db.all(TOKEN_EXPIRED, now=now)]

    def for_key(self, key_id: str) -> list[ImportToken]:
        return [_token(r) for r in self._db.all(TOKEN_FOR_KEY, key_id=key_id)]

    def delete(self, token_id: str) -> None:
        self._db.run(TOKEN_DELETE, id=token_id)


class SqlAccounts:
    def __init__(self, db: Db) -> None:
        self._db = db

    def get(self, uid: str) -> Account | None:
        row = self._db.one(ACCOUNT_GET, uid=uid)
        return Account(row[0], row[1]) if row else None

    def add(self, account: Account) -> None:
        self._db.run(ACCOUNT_INSERT, uid=account.uid, created_at=account.created_at)

    def list_all(self) -> list[Account]:
        return [Account(r[0], r[1]) for r in self._db.all(ACCOUNT_LIST)]


class SqlAccessKeys:
    def __init__(self, db: Db, for_update: bool = False) -> None:
        self._db = db
        self._get = AK_GET_FOR_UPDATE if for_update else AK_GET

    def get(self, access_key_id: str) -> AccessKey | None:
        return self._db.one_as(self._get, _access_key, id=access_key_id)

    def add(self, ak: AccessKey) -> None:
        self._db.run(
            AK_INSERT,
            id=ak.id,
            account_uid=ak.account_uid,
            sealed_secret=ak.sealed_secret,
            status=ak.status.value,
            created_at=ak.created_at,
            description=ak.description,
        )

    def save(self, ak: AccessKey) -> None:
        self._db.run(
            AK_UPDATE, id=ak.id, sealed_secret=ak.sealed_secret, status=ak.status.value, description=ak.description
        )

    def delete(self, access_key_id: str) -> None:
        self._db.run(AK_DELETE, id=access_key_id)

    def list_all(self) -> list[AccessKey]:
        return [_access_key(r) for r in self._db.all(AK_LIST)]


class SqlUnitOfWork:
    def __init__(self, db: Db, scope_lock: ClauseElement | None = None, writes: bool = False) -> None:
        scopes = Scopes(db, scope_lock)
        self.keys = SqlKeys(db, scopes)
        self.versions = SqlVersions(db)
        self.aliases = SqlAliases(db, scopes)
        self.tags = SqlTags(db)
        self.accounts = SqlAccounts(db)
        self.access_keys = SqlAccessKeys(db, for_update=writes)
        self.import_tokens = SqlImportTokens(db)


def _is_conflict(exc: BaseException) -> bool:
    """A unique or primary-key violation, whatever the driver calls it."""
    name = type(exc).__name__
    return name in ("IntegrityError", "UniqueViolation") or "UNIQUE constraint" in str(exc)


class SqlStore:
    """A Store over an engine. Subclasses decide how a write transaction begins."""

    # How a write transaction locks a scope; None where the engine serialises writers itself.
    scope_lock: ClauseElement | None = POSTGRES_SCOPE_LOCK

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._statements = Statements(engine.dialect)  # shared by subclasses
        self._driver_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    def _begin_write(self, conn: Connection) -> None:
        conn.begin()

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        try:
            raw = self.engine.raw_connection()
        except (SQLAlchemyError, self._driver_error) as exc:
            raise errors.BackendUnavailable("The database is not available.") from exc
        try:
            yield SqlUnitOfWork(Db(raw.driver_connection, self._statements))
        except self._driver_error as exc:
            raise errors.BackendUnavailable("The database failed.") from exc
        finally:
            raw.close()

    @contextmanager
    def write(self) -> Iterator[SqlUnitOfWork]:
        try:
            with self.engine.connect() as conn:
                self._begin_write(conn)
                try:
                    db = Db(conn.connection.driver_connection, self._statements)
                    yield SqlUnitOfWork(db, self.scope_lock, writes=True)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
        except errors.KmsError:
            raise
        except (SQLAlchemyError, self._driver_error) as exc:
            orig = exc.orig if isinstance(exc, DBAPIError) else None
            if _is_conflict(exc) or (orig is not None and _is_conflict(orig)):
                raise errors.BackendUnavailable("A concurrent change conflicted; retry the request.") from exc
            raise errors.BackendUnavailable("The database failed.") from exc

    def ping(self) -> None:
        """Raises unless the database answers a query (the health check)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT version_num FROM alembic_version")  # reads the schema, not only the socket

    def dispose(self) -> None:
        self.engine.dispose()
