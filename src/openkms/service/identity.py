"""Accounts and AccessKey pairs: the administrator's first pair, issuing and revoking pairs."""

from __future__ import annotations

import secrets
import string
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

from openkms.domain import errors
from openkms.domain.identity import AccessKey, AccessKeyStatus, Account
from openkms.domain.ports import Clock, Sealer, Store, UnitOfWork

_ALNUM = string.ascii_letters + string.digits
# The node value that names the administrator's account (the account made at the first start).
ADMINISTRATOR_ACCOUNT = "administrator-account"


def secret_aad(access_key_id: str) -> bytes:
    return b"access-key:" + access_key_id.encode()


@dataclass(frozen=True, slots=True)
class Credential:
    """What signature verification needs. ``secret`` never leaves the process."""

    access_key_id: str
    account_uid: str
    secret: str
    enabled: bool
    user_name: str = ""  # the RAM user the pair belongs to; empty: the account's own pair

    def __repr__(self) -> str:  # keep the secret out of tracebacks and debug output
        return f"Credential({self.access_key_id!r}, account={self.account_uid!r}, enabled={self.enabled})"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    access_key: AccessKey
    secret: str

    def __repr__(self) -> str:
        return f"IssuedKey({self.access_key.id!r})"


def new_access_key_id() -> str:
    return "LTAI" + "".join(secrets.choice(_ALNUM) for _ in range(20))


def new_secret() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(30))


def new_account_uid() -> str:
    return str(secrets.randbelow(9 * 10**15) + 10**15)  # 16 digits, like Alibaba Cloud uids


class IdentityService:
    def __init__(self, store: Store, sealer: Sealer, clock: Clock) -> None:
        self._store = store
        self._sealer = sealer
        self._clock = clock
        # Unsealed secrets by (id, sealed bytes): the row is still read on every request, so a
        # disabled, deleted or re-keyed pair takes effect at once in every worker.
        self._secrets: dict[tuple[str, bytes], str] = {}
        # The credential made of a row, by the row itself: the store hands out the same object
        # until the database changes (its remembered reads), so this costs an identity test.
        self._made: dict[str, tuple[AccessKey, Credential]] = {}

    def credential(self, access_key_id: str) -> Credential:
        with self._store.read() as uow:
            ak = uow.access_keys.get(access_key_id)
        if ak is None:
            raise errors.AccessKeyNotFound()
        made = self._made.get(access_key_id)
        if made is not None and made[0] is ak:
            return made[1]
        credential = self._credential(ak)
        if len(self._made) > 4096:
            self._made.clear()
        self._made[access_key_id] = (ak, credential)
        return credential

    def checked_by_claim(self) -> AbstractContextManager[None]:
        """Credentials read in this block may come from rows the store has not checked for
        changes yet: the nonce claim that ends a successful authentication checks them, and
        ``confirm`` or ``recheck`` says what that check found (storage/sql/changes.py)."""
        return self._store.deferred()

    def confirm(self, credential: Credential) -> Credential | None:
        """After the nonce claim: ``credential`` if the rows it was read from did not change;
        otherwise the credential as the database has it now (None: the pair is gone)."""
        if not self._store.stale():
            return credential
        try:
            return self.credential(credential.access_key_id)
        except errors.AccessKeyNotFound:
            return None

    def recheck(self) -> bool:
        """Before refusing a request on a credential read unchecked: whether the database changed
        since (if so, authenticate again on what it holds now)."""
        return self._store.recheck()

    def _credential(self, ak: AccessKey) -> Credential:
        cache_key = (ak.id, ak.sealed_secret)
        secret = self._secrets.get(cache_key)
        if secret is None:
            secret = self._sealer.unseal(ak.sealed_secret, secret_aad(ak.id)).decode()
            if len(self._secrets) > 4096:
                self._secrets.clear()
            self._secrets[cache_key] = secret
        return Credential(ak.id, ak.account_uid, secret, ak.status is AccessKeyStatus.ENABLED, ak.user_name)

    def issue(self, uow: UnitOfWork, account_uid: str, user_name: str = "", description: str = "") -> IssuedKey:
        """A new random pair, for the account (``user_name`` empty) or one of its RAM users."""
        return self._issue(uow, account_uid, new_access_key_id(), new_secret(), description, user_name)

    def _issue(
        self, uow: UnitOfWork, account_uid: str, ak_id: str, secret: str, description: str, user_name: str = ""
    ) -> IssuedKey:
        if uow.access_keys.get(ak_id) is not None:
            raise errors.InvalidParameter("AccessKeyId", "An AccessKey with this id already exists.")
        ak = AccessKey(
            ak_id,
            account_uid,
            self._sealer.seal(secret.encode(), secret_aad(ak_id)),
            AccessKeyStatus.ENABLED,
            int(self._clock.now()),
            description,
            user_name,
        )
        uow.access_keys.add(ak)
        return IssuedKey(ak, secret)

    def pair(self, account_uid: str, ak_id: str, secret: str, user_name: str, enabled: bool, now: int) -> AccessKey:
        """A pair with the id and secret a seed gives, its secret sealed as every pair's is."""
        status = AccessKeyStatus.ENABLED if enabled else AccessKeyStatus.DISABLED
        sealed = self._sealer.seal(secret.encode(), secret_aad(ak_id))
        return AccessKey(ak_id, account_uid, sealed, status, now, "seed", user_name)

    def bootstrap_admin(self, access_key_id: str | None, secret: str | None) -> IssuedKey | None:
        """On first start, create the administrator account and its pair (given, or random).

        Returns the new pair, or None when the store already had an administrator. A pair given
        later through the environment is added to (or re-keys) the administrator account. Which
        account is the administrator's is recorded with the data: accounts made in the same second
        could otherwise take its place as the first.
        """
        recorded = self._store.node_value(ADMINISTRATOR_ACCOUNT)
        issued = None
        with self._store.write() as uow:
            accounts = uow.accounts.list_all()
            if not accounts:
                account = Account(new_account_uid(), int(self._clock.now()))
                uow.accounts.add(account)
                issued = self._issue(
                    uow, account.uid, access_key_id or new_access_key_id(), secret or new_secret(), "administrator"
                )
                administrator = account.uid
            else:  # a database from before the record: its first account, as then
                administrator = recorded.decode() if recorded else accounts[0].uid
            if issued is None and access_key_id and secret:
                self._environment_pair(uow, administrator, access_key_id, secret)
        if recorded is None:
            self._store.put_node_value_if_absent(ADMINISTRATOR_ACCOUNT, administrator.encode())
        return issued

    def _environment_pair(self, uow: UnitOfWork, account_uid: str, access_key_id: str, secret: str) -> None:
        existing = uow.access_keys.get(access_key_id)
        if existing is None:
            self._issue(uow, account_uid, access_key_id, secret, "administrator (environment)")
        else:
            sealed = self._sealer.seal(secret.encode(), secret_aad(access_key_id))
            uow.access_keys.delete(access_key_id)
            uow.access_keys.add(replace(existing, sealed_secret=sealed, status=AccessKeyStatus.ENABLED))

    def create_access_key(
        self, account_uid: str | None = None, new_account: bool = False, description: str = ""
    ) -> IssuedKey:
        administrator = self._administrator()
        with self._store.write() as uow:
            if new_account:
                account = Account(new_account_uid(), int(self._clock.now()))
                uow.accounts.add(account)
                account_uid = account.uid
            else:
                account_uid = _account(uow, account_uid, administrator)
            return self._issue(uow, account_uid, new_access_key_id(), new_secret(), description)

    def account(self, account_uid: str | None = None) -> str:
        """The uid of an existing account: the one given, or else the administrator's."""
        administrator = self._administrator()
        with self._store.read() as uow:
            return _account(uow, account_uid, administrator)

    def _administrator(self) -> str | None:
        recorded = self._store.node_value(ADMINISTRATOR_ACCOUNT)
        return None if recorded is None else recorded.decode()

    def list_access_keys(self) -> list[AccessKey]:
        with self._store.read() as uow:
            return uow.access_keys.list_all()

    def set_enabled(self, access_key_id: str, enabled: bool) -> AccessKey:
        with self._store.write() as uow:
            ak = uow.access_keys.get(access_key_id)
            if ak is None:
                raise errors.AccessKeyNotFound()
            new = replace(ak, status=AccessKeyStatus.ENABLED if enabled else AccessKeyStatus.DISABLED)
            uow.access_keys.save(new)
        return new

    def delete_access_key(self, access_key_id: str) -> None:
        with self._store.write() as uow:
            if uow.access_keys.get(access_key_id) is None:
                raise errors.AccessKeyNotFound()
            uow.access_keys.delete(access_key_id)


def _account(uow: UnitOfWork, account_uid: str | None, administrator: str | None) -> str:
    """``account_uid`` if it exists; None means the administrator's account (recorded at the first
    start, else the first account)."""
    if account_uid is None:
        accounts = uow.accounts.list_all()
        if not accounts:
            raise errors.InvalidParameter("AccountId", "No account exists yet; start the server once.")
        return administrator or accounts[0].uid
    if uow.accounts.get(account_uid) is None:
        raise errors.InvalidParameter("AccountId", f"No account {account_uid}.")
    return account_uid
