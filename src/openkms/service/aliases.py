"""Alias use cases."""

from __future__ import annotations

from collections.abc import Collection

from openkms.domain import errors, listing
from openkms.domain.actions import action
from openkms.domain.aliases import DEFAULT_ALIASES_PER_REGION, Alias, validate_alias_name
from openkms.domain.authorization import Resource, alias_resource
from openkms.domain.identity import Caller
from openkms.domain.ports import Clock, Store, UnitOfWork
from openkms.service.resolve import KeyResolver

_CREATE, _UPDATE, _DELETE = action("CreateAlias"), action("UpdateAlias"), action("DeleteAlias")
_LIST, _LIST_BY_KEY = action("ListAliases"), action("ListAliasesByKeyId")


class AliasService:
    def __init__(
        self, store: Store, resolver: KeyResolver, clock: Clock, aliases_per_region: int = DEFAULT_ALIASES_PER_REGION
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._clock = clock
        self._limit = aliases_per_region

    def _now(self) -> int:
        return int(self._clock.now())

    def create_alias(self, caller: Caller, name: str, ref: str) -> Alias:
        validate_alias_name(name)
        now = self._now()
        with self._store.write() as uow:
            key = self._resolver.key(uow, caller, ref, _CREATE, now)
            return add_alias(uow, caller, name, key.id, now, self._limit)

    def update_alias(self, caller: Caller, name: str, ref: str) -> Alias:
        now = self._now()
        with self._store.write() as uow:
            alias = _live(uow, uow.aliases.get(caller.account_uid, caller.region, name), now)
            if alias is None:
                raise errors.AliasNotFound()
            key = self._resolver.key(uow, caller, ref, _UPDATE, now)
            uow.aliases.retarget(alias, key.id)
        return Alias(alias.name, key.id, alias.account_uid, alias.region, alias.created_at)

    def delete_alias(self, caller: Caller, name: str) -> None:
        self._resolver.authorize(caller, _DELETE, alias_resource(caller, name))
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
        container = Resource(caller.region, caller.account_uid, "alias")
        shown = self._resolver.visible(caller, _LIST, container, aliases, lambda a: alias_resource(caller, a.name))
        return page.slice(shown), len(shown)

    def names_by_key(self, caller: Caller, key_ids: Collection[str]) -> dict[str, list[str]]:
        """The alias names of each of ``key_ids`` (keys the caller has just listed), in one read:
        the console's Alias column. Asks the authorizer as ListAliases does."""
        self._resolver.authorize(caller, _LIST)
        with self._store.read() as uow:
            names = alias_names(uow, caller.account_uid, caller.region)
        return {key_id: names[key_id] for key_id in key_ids if key_id in names}

    def list_aliases_by_key(self, caller: Caller, ref: str, page: listing.Page) -> tuple[list[Alias], int]:
        with self._store.read() as uow:
            key = self._resolver.key(uow, caller, ref, _LIST_BY_KEY, self._now())
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


def alias_names(uow: UnitOfWork, account_uid: str, region: str) -> dict[str, list[str]]:
    """The alias names of every key in a region that has one, in one read."""
    names: dict[str, list[str]] = {}
    for alias in uow.aliases.list_in_region(account_uid, region):
        names.setdefault(alias.key_id, []).append(alias.name)
    return names


def _live(uow: UnitOfWork, alias: Alias | None, now: int) -> Alias | None:
    """The alias, unless its key is past its deletion window: such an alias is gone with the
    key even before the background job purges both."""
    if alias is None:
        return None
    target = uow.keys.get(alias.account_uid, alias.region, alias.key_id)
    return alias if target is not None and not target.is_gone(now) else None
