"""RAM users and their AccessKeys (RAM API 2015-05-01; docs/reference/ram-2015-05-01.md sections 3.1 to 3.9).

Every use case asks the authorizer for ``ram:<Action>`` on ``acs:ram:*:<account>:user/<name>``:
an account's own (root) keys may do everything, a RAM user what its policies allow. Every change
moves the account's RAM generation, so compiled policies are read again on every worker and node.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from openkms.domain import errors
from openkms.domain.actions import action
from openkms.domain.authorization import ram_resource
from openkms.domain.identity import AccessKey, AccessKeyStatus, Caller
from openkms.domain.ports import Clock, Store, UnitOfWork
from openkms.domain.ram.identities import (
    ACCESS_KEYS_PER_USER,
    MAX_COMMENTS,
    MAX_DISPLAY_NAME,
    RamLimits,
    User,
    check_length,
    check_user_name,
)
from openkms.service.identity import IdentityService, IssuedKey
from openkms.service.resolve import KeyResolver


@dataclass(frozen=True, slots=True)
class UserFields:
    """What CreateUser sets and UpdateUser changes (None: left as it is)."""

    display_name: str | None = None
    email: str | None = None
    mobile_phone: str | None = None
    comments: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    marker: str | None = None  # where the page starts (a name, from the previous page)
    max_items: int = 100


def page_of(names: list[str], page: Page) -> tuple[int, int, str | None]:
    """(start, end, next marker) of a page over names in their listed order."""
    start = 0
    if page.marker:
        if page.marker not in names:
            raise errors.RamInvalidParameter("Marker")
        start = names.index(page.marker)
    end = start + page.max_items
    return start, end, names[end] if end < len(names) else None


class RamUserService:
    def __init__(
        self, store: Store, resolver: KeyResolver, identity: IdentityService, clock: Clock, limits: RamLimits
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._identity = identity
        self._clock = clock
        self._limits = limits

    def _now(self) -> int:
        return int(self._clock.now())

    def _authorize(self, caller: Caller, name: str, user: str) -> None:
        self._resolver.authorize(caller, action(name, "ram"), ram_resource(caller.account_uid, f"user/{user}"))

    # --- users --------------------------------------------------------------------------------

    def create_user(self, caller: Caller, name: str, fields: UserFields) -> User:
        check_user_name(name)
        self._authorize(caller, "CreateUser", name)
        now = self._now()
        user = _apply(User(caller.account_uid, name, _user_id(), now, now), fields)
        with self._store.write() as uow:
            if uow.users.get(caller.account_uid, name) is not None:
                raise errors.EntityAlreadyExists("User")
            if uow.users.count(caller.account_uid) >= self._limits.users_per_account:
                raise errors.RamLimitExceeded("User")
            uow.users.add(user)
            uow.attachments.bump(caller.account_uid)
        return user

    def get_user(self, caller: Caller, name: str) -> User:
        check_user_name(name)
        self._authorize(caller, "GetUser", name)
        with self._store.read() as uow:
            return _existing(uow, caller, name)

    def update_user(self, caller: Caller, name: str, new_name: str | None, fields: UserFields) -> User:
        check_user_name(name)
        if new_name is not None:
            check_user_name(new_name, "NewUserName")
        self._authorize(caller, "UpdateUser", name)
        with self._store.write() as uow:
            user = _existing(uow, caller, name)
            changed = replace(_apply(user, fields, prefix="New"), updated_at=self._now())
            if new_name is not None and new_name != name:
                if uow.users.get(caller.account_uid, new_name) is not None:
                    raise errors.EntityAlreadyExists("User")
                changed = replace(changed, name=new_name)
                uow.attachments.rename_user(caller.account_uid, name, new_name)
                for ak in uow.access_keys.list_for_user(caller.account_uid, name):
                    uow.access_keys.save(replace(ak, user_name=new_name))
            uow.users.save(changed, old_name=name)
            uow.attachments.bump(caller.account_uid)
        return changed

    def list_users(self, caller: Caller, page: Page) -> tuple[list[User], str | None]:
        self._authorize(caller, "ListUsers", "*")
        with self._store.read() as uow:
            users = uow.users.list_all(caller.account_uid)
        start, end, marker = page_of([u.name for u in users], page)
        return users[start:end], marker

    def delete_user(self, caller: Caller, name: str) -> None:
        check_user_name(name)
        self._authorize(caller, "DeleteUser", name)
        with self._store.write() as uow:
            _existing(uow, caller, name)
            if uow.access_keys.list_for_user(caller.account_uid, name):
                raise errors.DeleteConflict("User.AccessKey")
            if uow.attachments.for_user(caller.account_uid, name):
                raise errors.DeleteConflict("User.Policy")
            uow.users.delete(caller.account_uid, name)
            uow.attachments.bump(caller.account_uid)

    # --- AccessKeys ---------------------------------------------------------------------------

    def _owner(self, caller: Caller, user_name: str | None) -> str:
        """Whose keys a call without UserName means: the calling user's own, or, for the account's
        own keys, the account's (docs/COMPATIBILITY.md)."""
        return caller.user_name if user_name is None else check_user_name(user_name)

    def _authorize_keys(self, caller: Caller, name: str, owner: str) -> None:
        if owner:
            self._authorize(caller, name, owner)
        else:  # the account's own keys: only the account itself manages them
            self._resolver.authorize(caller, action(name, "ram"), ram_resource(caller.account_uid, "root"))

    def create_access_key(self, caller: Caller, user_name: str | None = None, description: str = "") -> IssuedKey:
        """``description`` is openkms's own (RAM's CreateAccessKey has none): the operator's note."""
        owner = self._owner(caller, user_name)
        self._authorize_keys(caller, "CreateAccessKey", owner)
        with self._store.write() as uow:
            if owner:
                _existing(uow, caller, owner)
                if len(uow.access_keys.list_for_user(caller.account_uid, owner)) >= ACCESS_KEYS_PER_USER:
                    raise errors.RamLimitExceeded("User.AccessKey")
            return self._identity.issue(uow, caller.account_uid, owner, description)

    def list_access_keys(self, caller: Caller, user_name: str | None = None) -> list[AccessKey]:
        owner = self._owner(caller, user_name)
        self._authorize_keys(caller, "ListAccessKeys", owner)
        with self._store.read() as uow:
            if owner:
                _existing(uow, caller, owner)
            return uow.access_keys.list_for_user(caller.account_uid, owner)

    def update_access_key(
        self, caller: Caller, access_key_id: str, active: bool, user_name: str | None = None
    ) -> AccessKey:
        owner = self._owner(caller, user_name)
        self._authorize_keys(caller, "UpdateAccessKey", owner)
        with self._store.write() as uow:
            ak = self._key_of(uow, caller, owner, access_key_id)
            changed = replace(ak, status=AccessKeyStatus.ENABLED if active else AccessKeyStatus.DISABLED)
            uow.access_keys.save(changed)
        return changed

    def delete_access_key(self, caller: Caller, access_key_id: str, user_name: str | None = None) -> None:
        owner = self._owner(caller, user_name)
        self._authorize_keys(caller, "DeleteAccessKey", owner)
        with self._store.write() as uow:
            self._key_of(uow, caller, owner, access_key_id)
            uow.access_keys.delete(access_key_id)

    def _key_of(self, uow: UnitOfWork, caller: Caller, owner: str, access_key_id: str) -> AccessKey:
        if owner:
            _existing(uow, caller, owner)
        found = next(
            (k for k in uow.access_keys.list_for_user(caller.account_uid, owner) if k.id == access_key_id), None
        )
        if found is None:  # unknown, or another user's or account's: the same answer
            raise errors.EntityNotExist("User.AccessKey")
        return found


def _existing(uow: UnitOfWork, caller: Caller, name: str) -> User:
    user = uow.users.get(caller.account_uid, name)
    if user is None:
        raise errors.EntityNotExist("User")
    return user


def _apply(user: User, fields: UserFields, prefix: str = "") -> User:
    def checked(value: str | None, current: str, check: Callable[[str], str]) -> str:
        return current if value is None else check(value)

    return replace(
        user,
        display_name=checked(
            fields.display_name, user.display_name, lambda v: check_length(f"{prefix}DisplayName", v, MAX_DISPLAY_NAME)
        ),
        email=checked(fields.email, user.email, lambda v: _email(v, f"{prefix}Email")),
        mobile_phone=checked(fields.mobile_phone, user.mobile_phone, lambda v: _phone(v, f"{prefix}MobilePhone")),
        comments=checked(fields.comments, user.comments, lambda v: check_length(f"{prefix}Comments", v, MAX_COMMENTS)),
    )


def _email(value: str, parameter: str) -> str:
    local, at, domain = value.partition("@")
    if value and (not at or not local or "." not in domain or len(value) > 128):
        raise errors.RamInvalidParameter(parameter, "Format")
    return value


def _phone(value: str, parameter: str) -> str:
    code, dash, number = value.partition("-")
    if value and not (dash and code.isascii() and code.isdigit() and number.isascii() and number.isdigit()):
        raise errors.RamInvalidParameter(parameter, "Format")
    return value


def _user_id() -> str:
    return str(secrets.randbelow(9 * 10**15) + 10**15)  # 16 digits, as RAM's
