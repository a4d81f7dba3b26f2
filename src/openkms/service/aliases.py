"""Alias use cases."""

from __future__ import annotations

from openkms.domain import errors, listing
from openkms.domain.aliases import DEFAULT_ALIASES_PER_REGION, Alias, validate_alias_name
from openkms.domain.identity import Caller
from openkms.domain.ports import Clock, Store, UnitOfWork
from openkms.domain.states import Op, require
from openkms.service.resolve import resolve_key


class AliasService:
    def __init__(self, store: Store, clock: Clock, aliases_per_region: int = DEFAULT_ALIASES_PER_REGION) -> None:
        self._store = store
        self._clock = clock
        self._limit = aliases_per_region

    def _now(self) -> int:
        return int(self._clock.now())

    def create_alias(self, caller: Caller, name: str, ref: str) -> Alias:
        validate_alias_name(name)
        now = self._now()
        with self._store.write() as uow:
            key = resolve_key(uow, caller, ref, now)
            require(key.state, Op.CREATE_ALIAS)
            return add_alias(uow, caller, name, key.id, now, self._limit)

    def update_alias(self, caller: Caller, name: str, ref: str) -> Alias:
        now = self._now()
        with self._store.write() as uow:
            alias = _live(uow, uow.aliases.get(caller.account_uid, caller.region, name), now)
            if alias is None:
                raise errors.AliasNotFound()
            key = resolve_key(uow, caller, ref, now)
            require(key.state, Op.ALIAS_TARGET)
            uow.aliases.retarget(alias, key.id)
        return Alias(alias.name, key.id, alias.account_uid, alias.region, alias.created_at)

    def delete_alias(self, caller: Caller, name: str) -> None:
        now = self._now()
        with self._store.write() as uow:
            alias = _live(uow, uow.aliases.get(caller.account_uid, caller.region, name), now)
            if alias is None:
                raise errors.AliasNotFound()
            uow.aliases.delete(alias)

    def list_aliases(self, caller: Caller, page: listing.Page) -> tuple[list[Alias], int]:
        now = self._now()
        with self._store.read() as uow:
            gone = {k.id for k in uow.keys.list_in_region(caller.account_uid, caller.region) if k.is_gone(now)}
            aliases = [a for a in uow.aliases.list_in_region(caller.account_uid, caller.region) if a.key_id not in gone]
        return page.slice(aliases), len(aliases)

    def list_aliases_by_key(self, caller: Caller, ref: str, page: listing.Page) -> tuple[list[Alias], int]:
        with self._store.read() as uow:
            key = resolve_key(uow, caller, ref, self._now())
            aliases = uow.aliases.list_for_key(key.id)
        return page.slice(aliases), len(aliases)


def add_alias(uow: UnitOfWork, caller: Caller, name: str, key_id: str, now: int, limit: int) -> Alias:
    """A new alias in the caller's region (CreateAlias, and CreateKey with an alias)."""
    existing = uow.aliases.get(caller.account_uid, caller.region, name)
    if existing is not None:
        if _live(uow, existing, now) is not None:
            raise errors.AliasAlreadyExists()
        uow.aliases.delete(existing)  # it named a key past its deletion window
    if uow.aliases.count(caller.account_uid, caller.region) >= limit:
        raise errors.LimitExceeded(f"At most {limit} aliases per account and region.")
    alias = Alias(name, key_id, caller.account_uid, caller.region, now)
    uow.aliases.add(alias)
    return alias


def _live(uow: UnitOfWork, alias: Alias | None, now: int) -> Alias | None:
    """The alias, unless its key is past its deletion window: such an alias is gone with the
    key even before the background job purges both."""
    if alias is None:
        return None
    target = uow.keys.get(alias.account_uid, alias.region, alias.key_id)
    return alias if target is not None and not target.is_gone(now) else None
