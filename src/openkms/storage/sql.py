"""Repositories over SQLAlchemy Core, shared by the SQLite and PostgreSQL stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from openkms.domain import errors
from openkms.domain.aliases import Alias
from openkms.domain.identity import AccessKey, AccessKeyStatus, Account
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.specs import KeyUsage, Origin, ProtectionLevel
from openkms.domain.states import KeyState
from openkms.domain.tags import Tag
from openkms.storage import schema as t


def _key_from_row(r: Row[Any]) -> Key:
    return Key(
        id=r.id,
        account_uid=r.account_uid,
        region=r.region,
        spec=r.spec,
        usage=KeyUsage(r.usage),
        origin=Origin(r.origin),
        protection_level=ProtectionLevel(r.protection_level),
        state=KeyState(r.state),
        created_at=r.created_at,
        creator=r.creator,
        description=r.description,
        primary_version_id=r.primary_version_id,
        last_rotation_at=r.last_rotation_at,
        rotation_enabled=bool(r.rotation_enabled),
        rotation_interval=r.rotation_interval,
        delete_at=r.delete_at,
        material_expire_at=r.material_expire_at,
        deletion_protection=bool(r.deletion_protection),
        deletion_protection_description=r.deletion_protection_description,
        policy=r.policy,
        key_store_id=r.key_store_id,
    )


def _key_values(k: Key) -> dict[str, Any]:
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
    }


class SqlKeys:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def get(self, account_uid: str, region: str, key_id: str) -> Key | None:
        row = self._c.execute(
            select(t.keys).where(t.keys.c.id == key_id, t.keys.c.account_uid == account_uid, t.keys.c.region == region)
        ).first()
        return _key_from_row(row) if row else None

    def add(self, key: Key) -> None:
        self._c.execute(insert(t.keys).values(**_key_values(key)))

    def save(self, key: Key) -> None:
        values = _key_values(key)
        del values["id"]
        self._c.execute(update(t.keys).where(t.keys.c.id == key.id).values(**values))

    def list(self, account_uid: str, region: str) -> list[Key]:
        rows = self._c.execute(
            select(t.keys)
            .where(t.keys.c.account_uid == account_uid, t.keys.c.region == region)
            .order_by(t.keys.c.created_at, t.keys.c.id)
        )
        return [_key_from_row(r) for r in rows]

    def count(self, account_uid: str, region: str) -> int:
        stmt = select(func.count()).where(t.keys.c.account_uid == account_uid, t.keys.c.region == region)
        return int(self._c.execute(stmt).scalar_one())

    def due_for_rotation(self, now: int) -> list[Key]:
        rows = self._c.execute(
            select(t.keys).where(
                t.keys.c.rotation_enabled.is_(True),
                t.keys.c.state == KeyState.ENABLED.value,
                t.keys.c.last_rotation_at + t.keys.c.rotation_interval <= now,
            )
        )
        return [_key_from_row(r) for r in rows]

    def past_deletion(self, now: int) -> list[Key]:
        rows = self._c.execute(
            select(t.keys).where(t.keys.c.state == KeyState.PENDING_DELETION.value, t.keys.c.delete_at <= now)
        )
        return [_key_from_row(r) for r in rows]

    def purge(self, key_id: str) -> None:
        for table in (t.tags, t.aliases, t.key_versions):
            self._c.execute(delete(table).where(table.c.key_id == key_id))
        self._c.execute(delete(t.keys).where(t.keys.c.id == key_id))


class SqlVersions:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def add(self, version: KeyVersion) -> None:
        self._c.execute(
            insert(t.key_versions).values(
                id=version.id, key_id=version.key_id, created_at=version.created_at, material_ref=version.material_ref
            )
        )

    def get(self, version_id: str) -> KeyVersion | None:
        row = self._c.execute(select(t.key_versions).where(t.key_versions.c.id == version_id)).first()
        return KeyVersion(row.id, row.key_id, row.created_at, bytes(row.material_ref)) if row else None

    def list(self, key_id: str) -> list[KeyVersion]:
        rows = self._c.execute(
            select(t.key_versions)
            .where(t.key_versions.c.key_id == key_id)
            .order_by(t.key_versions.c.created_at.desc(), t.key_versions.c.id.desc())
        )
        return [KeyVersion(r.id, r.key_id, r.created_at, bytes(r.material_ref)) for r in rows]


def _alias(r: Row[Any]) -> Alias:
    return Alias(r.name, r.key_id, r.account_uid, r.region, r.created_at)


class SqlAliases:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def get(self, account_uid: str, region: str, name: str) -> Alias | None:
        a = t.aliases.c
        row = self._c.execute(
            select(t.aliases).where(a.account_uid == account_uid, a.region == region, a.name == name)
        ).first()
        return _alias(row) if row else None

    def add(self, alias: Alias) -> None:
        try:
            with self._c.begin_nested():
                self._c.execute(
                    insert(t.aliases).values(
                        account_uid=alias.account_uid,
                        region=alias.region,
                        name=alias.name,
                        key_id=alias.key_id,
                        created_at=alias.created_at,
                    )
                )
        except IntegrityError:
            raise errors.AliasAlreadyExists() from None

    def retarget(self, alias: Alias, key_id: str) -> None:
        a = t.aliases.c
        self._c.execute(
            update(t.aliases)
            .where(a.account_uid == alias.account_uid, a.region == alias.region, a.name == alias.name)
            .values(key_id=key_id)
        )

    def delete(self, alias: Alias) -> None:
        a = t.aliases.c
        self._c.execute(
            delete(t.aliases).where(a.account_uid == alias.account_uid, a.region == alias.region, a.name == alias.name)
        )

    def list(self, account_uid: str, region: str) -> list[Alias]:
        a = t.aliases.c
        rows = self._c.execute(
            select(t.aliases).where(a.account_uid == account_uid, a.region == region).order_by(a.created_at, a.name)
        )
        return [_alias(r) for r in rows]

    def list_for_key(self, key_id: str) -> list[Alias]:
        a = t.aliases.c
        rows = self._c.execute(select(t.aliases).where(a.key_id == key_id).order_by(a.created_at, a.name))
        return [_alias(r) for r in rows]

    def count(self, account_uid: str, region: str) -> int:
        a = t.aliases.c
        stmt = select(func.count()).where(a.account_uid == account_uid, a.region == region)
        return int(self._c.execute(stmt).scalar_one())


class SqlTags:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def list(self, key_id: str) -> list[Tag]:
        return self.list_many([key_id]).get(key_id, [])

    def list_many(self, key_ids: list[str]) -> dict[str, list[Tag]]:
        out: dict[str, list[Tag]] = {}
        if not key_ids:
            return out
        rows = self._c.execute(
            select(t.tags).where(t.tags.c.key_id.in_(key_ids)).order_by(t.tags.c.key_id, t.tags.c.tag_key)
        )
        for r in rows:
            out.setdefault(r.key_id, []).append(Tag(r.tag_key, r.tag_value))
        return out

    def replace(self, key_id: str, tags: list[Tag]) -> None:
        self._c.execute(delete(t.tags).where(t.tags.c.key_id == key_id))
        if tags:
            self._c.execute(
                insert(t.tags), [{"key_id": key_id, "tag_key": x.key, "tag_value": x.value} for x in tags]
            )


class SqlAccounts:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def get(self, uid: str) -> Account | None:
        row = self._c.execute(select(t.accounts).where(t.accounts.c.uid == uid)).first()
        return Account(row.uid, row.created_at) if row else None

    def add(self, account: Account) -> None:
        self._c.execute(insert(t.accounts).values(uid=account.uid, created_at=account.created_at))

    def list(self) -> list[Account]:
        rows = self._c.execute(select(t.accounts).order_by(t.accounts.c.created_at, t.accounts.c.uid))
        return [Account(r.uid, r.created_at) for r in rows]


def _access_key(r: Row[Any]) -> AccessKey:
    return AccessKey(r.id, r.account_uid, bytes(r.sealed_secret), AccessKeyStatus(r.status), r.created_at, r.description)


class SqlAccessKeys:
    def __init__(self, conn: Connection) -> None:
        self._c = conn

    def get(self, access_key_id: str) -> AccessKey | None:
        row = self._c.execute(select(t.access_keys).where(t.access_keys.c.id == access_key_id)).first()
        return _access_key(row) if row else None

    def add(self, ak: AccessKey) -> None:
        self._c.execute(
            insert(t.access_keys).values(
                id=ak.id,
                account_uid=ak.account_uid,
                sealed_secret=ak.sealed_secret,
                status=ak.status.value,
                created_at=ak.created_at,
                description=ak.description,
            )
        )

    def save(self, ak: AccessKey) -> None:
        self._c.execute(
            update(t.access_keys)
            .where(t.access_keys.c.id == ak.id)
            .values(status=ak.status.value, description=ak.description)
        )

    def delete(self, access_key_id: str) -> None:
        self._c.execute(delete(t.access_keys).where(t.access_keys.c.id == access_key_id))

    def list(self) -> list[AccessKey]:
        rows = self._c.execute(select(t.access_keys).order_by(t.access_keys.c.created_at, t.access_keys.c.id))
        return [_access_key(r) for r in rows]


class SqlUnitOfWork:
    def __init__(self, conn: Connection) -> None:
        self.keys = SqlKeys(conn)
        self.versions = SqlVersions(conn)
        self.aliases = SqlAliases(conn)
        self.tags = SqlTags(conn)
        self.accounts = SqlAccounts(conn)
        self.access_keys = SqlAccessKeys(conn)


class SqlStore:
    """A Store over an engine. Subclasses set how a write transaction begins."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _begin_write(self, conn: Connection) -> None:
        conn.begin()

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        try:
            with self.engine.connect() as conn:
                yield SqlUnitOfWork(conn)
                conn.rollback()
        except OperationalError as exc:
            raise errors.BackendUnavailable("The database is not available.") from exc

    @contextmanager
    def write(self) -> Iterator[SqlUnitOfWork]:
        try:
            with self.engine.connect() as conn:
                self._begin_write(conn)
                try:
                    yield SqlUnitOfWork(conn)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
        except OperationalError as exc:
            raise errors.BackendUnavailable("The database is not available.") from exc
        except IntegrityError as exc:
            raise errors.BackendUnavailable("A concurrent change conflicted; retry the request.") from exc
        except SQLAlchemyError as exc:
            raise errors.BackendUnavailable("The database failed.") from exc

    def dispose(self) -> None:
        self.engine.dispose()
