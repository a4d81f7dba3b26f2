"""RAM: users, custom policies and their versions, attachments, and each account's generation.

Every RAM write of an account is serialised by one scope lock per account (``RAM_SCOPE`` in place
of a region, see scopes.py), taken by the first call of a write unit of work: the rules that read,
check and write (at most 2 AccessKeys per user, no deleting an attached policy, limits) then see the
last committed change.
"""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update

from openkms.domain.ram.identities import Attachment, ManagedPolicy, PolicyType, PolicyVersion, User
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Mapper
from openkms.storage.sql.scopes import Scopes

RAM_SCOPE = "-ram-"  # never a region id

USER = Mapper(User, t.ram_users)
U = t.ram_users.c
_user_named = (U.account_uid == param("account"), U.name == param("name"))
USER_GET = select(*USER.columns).where(*_user_named)
USER_INSERT = insert(t.ram_users).values(USER.values())
USER_UPDATE = (
    update(t.ram_users)
    .where(U.account_uid == param("account"), U.name == param("old_name"))
    .values(USER.values("account_uid"))
)
USER_DELETE = delete(t.ram_users).where(*_user_named)
USER_LIST = select(*USER.columns).where(U.account_uid == param("account")).order_by(U.created_at, U.name)
USER_COUNT = select(func.count()).select_from(t.ram_users).where(U.account_uid == param("account"))

POLICY = Mapper(ManagedPolicy, t.ram_policies)
P = t.ram_policies.c
_policy_named = (P.account_uid == param("account"), P.name == param("name"))
POLICY_GET = select(*POLICY.columns).where(*_policy_named)
POLICY_INSERT = insert(t.ram_policies).values(POLICY.values())
POLICY_UPDATE = update(t.ram_policies).where(*_policy_named).values(POLICY.values("account_uid", "name"))
POLICY_DELETE = delete(t.ram_policies).where(*_policy_named)
POLICY_LIST = select(*POLICY.columns).where(P.account_uid == param("account")).order_by(P.created_at, P.name)
POLICY_COUNT = select(func.count()).select_from(t.ram_policies).where(P.account_uid == param("account"))

VERSION = Mapper(PolicyVersion, t.ram_policy_versions)
V = t.ram_policy_versions.c
_versions_of = (V.account_uid == param("account"), V.policy_name == param("name"))
VERSION_LIST = select(*VERSION.columns).where(*_versions_of).order_by(V.created_at, V.version_id)
VERSION_INSERT = insert(t.ram_policy_versions).values(VERSION.values())
VERSION_DELETE = delete(t.ram_policy_versions).where(*_versions_of, V.version_id == param("version_id"))
VERSIONS_DELETE = delete(t.ram_policy_versions).where(*_versions_of)

ATTACHMENT = Mapper(Attachment, t.ram_attachments)
AT = t.ram_attachments.c
ATTACHMENTS_OF_USER = (
    select(*ATTACHMENT.columns)
    .where(AT.account_uid == param("account"), AT.user_name == param("user"))
    .order_by(AT.attached_at, AT.policy_name)
)
ATTACHMENTS_OF_POLICY = (
    select(*ATTACHMENT.columns)
    .where(AT.account_uid == param("account"), AT.policy_type == param("type"), AT.policy_name == param("name"))
    .order_by(AT.attached_at, AT.user_name)
)
ATTACHMENT_INSERT = insert(t.ram_attachments).values(ATTACHMENT.values())
ATTACHMENT_DELETE = delete(t.ram_attachments).where(
    AT.account_uid == param("account"),
    AT.user_name == param("user"),
    AT.policy_type == param("type"),
    AT.policy_name == param("name"),
)
ATTACHMENTS_RENAME = (
    update(t.ram_attachments)
    .where(AT.account_uid == param("account"), AT.user_name == param("old"))
    .values(user_name=param("new"))
)

G = t.ram_generations.c
GENERATION_GET = select(G.generation).where(G.account_uid == param("account"))
GENERATION_INSERT = insert(t.ram_generations).values(account_uid=param("account"), generation=1)
GENERATION_BUMP = update(t.ram_generations).where(G.account_uid == param("account")).values(generation=G.generation + 1)


class SqlUsers:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, account_uid: str, name: str) -> User | None:
        self._scopes.lock(account_uid, RAM_SCOPE)
        return self._db.one_as(USER_GET, USER.from_row, account=account_uid, name=name)

    def add(self, user: User) -> None:
        self._scopes.lock(user.account_uid, RAM_SCOPE)
        self._db.run(USER_INSERT, **USER.to_params(user))

    def save(self, user: User, old_name: str) -> None:
        self._scopes.lock(user.account_uid, RAM_SCOPE)
        self._db.run(USER_UPDATE, **USER.to_params(user), account=user.account_uid, old_name=old_name)

    def delete(self, account_uid: str, name: str) -> None:
        self._scopes.lock(account_uid, RAM_SCOPE)
        self._db.run(USER_DELETE, account=account_uid, name=name)

    def list_all(self, account_uid: str) -> list[User]:
        return self._db.all_as(USER_LIST, USER.from_row, account=account_uid)

    def count(self, account_uid: str) -> int:
        self._scopes.lock(account_uid, RAM_SCOPE)
        return self._db.count(USER_COUNT, account=account_uid)


class SqlPolicies:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, account_uid: str, name: str) -> ManagedPolicy | None:
        self._scopes.lock(account_uid, RAM_SCOPE)
        return self._db.one_as(POLICY_GET, POLICY.from_row, account=account_uid, name=name)

    def add(self, policy: ManagedPolicy) -> None:
        self._scopes.lock(policy.account_uid, RAM_SCOPE)
        self._db.run(POLICY_INSERT, **POLICY.to_params(policy))

    def save(self, policy: ManagedPolicy) -> None:
        self._scopes.lock(policy.account_uid, RAM_SCOPE)
        self._db.run(POLICY_UPDATE, **POLICY.to_params(policy), account=policy.account_uid)

    def delete(self, account_uid: str, name: str) -> None:
        self._scopes.lock(account_uid, RAM_SCOPE)
        self._db.run(VERSIONS_DELETE, account=account_uid, name=name)
        self._db.run(POLICY_DELETE, account=account_uid, name=name)

    def list_all(self, account_uid: str) -> list[ManagedPolicy]:
        return self._db.all_as(POLICY_LIST, POLICY.from_row, account=account_uid)

    def count(self, account_uid: str) -> int:
        self._scopes.lock(account_uid, RAM_SCOPE)
        return self._db.count(POLICY_COUNT, account=account_uid)

    def versions(self, account_uid: str, name: str) -> list[PolicyVersion]:
        self._scopes.lock(account_uid, RAM_SCOPE)
        found = self._db.all_as(VERSION_LIST, VERSION.from_row, account=account_uid, name=name)
        return sorted(found, key=lambda v: v.number)

    def add_version(self, version: PolicyVersion) -> None:
        self._scopes.lock(version.account_uid, RAM_SCOPE)
        self._db.run(VERSION_INSERT, **VERSION.to_params(version))

    def delete_version(self, account_uid: str, name: str, version_id: str) -> None:
        self._scopes.lock(account_uid, RAM_SCOPE)
        self._db.run(VERSION_DELETE, account=account_uid, name=name, version_id=version_id)


class SqlAttachments:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def for_user(self, account_uid: str, user_name: str) -> list[Attachment]:
        self._scopes.lock(account_uid, RAM_SCOPE)
        return self._db.all_as(ATTACHMENTS_OF_USER, ATTACHMENT.from_row, account=account_uid, user=user_name)

    def for_policy(self, account_uid: str, policy_type: PolicyType, name: str) -> list[Attachment]:
        self._scopes.lock(account_uid, RAM_SCOPE)
        return self._db.all_as(
            ATTACHMENTS_OF_POLICY, ATTACHMENT.from_row, account=account_uid, type=policy_type.value, name=name
        )

    def add(self, attachment: Attachment) -> None:
        self._scopes.lock(attachment.account_uid, RAM_SCOPE)
        self._db.run(ATTACHMENT_INSERT, **ATTACHMENT.to_params(attachment))

    def delete(self, account_uid: str, user_name: str, policy_type: PolicyType, name: str) -> None:
        self._scopes.lock(account_uid, RAM_SCOPE)
        self._db.run(ATTACHMENT_DELETE, account=account_uid, user=user_name, type=policy_type.value, name=name)

    def rename_user(self, account_uid: str, old_name: str, new_name: str) -> None:
        self._scopes.lock(account_uid, RAM_SCOPE)
        self._db.run(ATTACHMENTS_RENAME, account=account_uid, old=old_name, new=new_name)

    def generation(self, account_uid: str) -> int:
        row = self._db.one(GENERATION_GET, account=account_uid)
        return int(row[0]) if row else 0

    def bump(self, account_uid: str) -> None:
        self._scopes.lock(account_uid, RAM_SCOPE)
        if self._db.one(GENERATION_GET, account=account_uid) is None:
            self._db.run(GENERATION_INSERT, account=account_uid)
        else:
            self._db.run(GENERATION_BUMP, account=account_uid)
