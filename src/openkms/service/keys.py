"""Key lifecycle use cases: create, describe, list, enable/disable, deletion, protection, policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from openkms.domain import errors, keys, listing, policy
from openkms.domain.actions import Action, action
from openkms.domain.aliases import DEFAULT_ALIASES_PER_REGION, validate_alias_name
from openkms.domain.authorization import key_resource, keys_of
from openkms.domain.identity import Caller
from openkms.domain.keys import Key, KeyVersion, effective
from openkms.domain.ports import Clock, CryptoBackend, IdGenerator, Store, UnitOfWork
from openkms.domain.regions import RegionCatalogue
from openkms.domain.specs import (
    DEFAULT_ORIGIN,
    DEFAULT_PROTECTION_LEVEL,
    DEFAULT_SPEC,
    SPECS,
    KeyUsage,
    Origin,
    ProtectionLevel,
    SpecInfo,
    check_usage,
    spec_info,
)
from openkms.domain.states import KeyState
from openkms.domain.tags import MAX_TAGS_PER_KEY, Tag
from openkms.service.aliases import add_alias, alias_names
from openkms.service.backends import DEFAULT_STORE, Backends, KeyStoreStatus
from openkms.service.discards import Discards, Provisional
from openkms.service.material import has_material
from openkms.service.resolve import KeyResolver


@dataclass(frozen=True)
class CreateKeyRequest:
    spec: str = DEFAULT_SPEC
    usage: KeyUsage | None = None
    origin: Origin = DEFAULT_ORIGIN
    protection_level: ProtectionLevel = DEFAULT_PROTECTION_LEVEL
    description: str = ""
    rotation_enabled: bool = False
    rotation_interval: int | None = None
    tags: Sequence[Tag] = field(default_factory=tuple)
    policy: str | None = None
    key_store_id: str = ""
    alias: str | None = None  # the console sets an alias in the same step


@dataclass(frozen=True)
class SpecChoice:
    """One key spec as CreateKey offers it in a region: ``problem`` is None when it can be created."""

    spec: SpecInfo
    problem: str | None
    usages: Mapping[KeyUsage, str | None]
    levels: Mapping[ProtectionLevel, str | None]
    origins: Mapping[Origin, str | None]


# key store id -> spec -> protection level -> why CreateKey refuses it there (None: it does not).
StoreLevels = Mapping[str, Mapping[str, Mapping[ProtectionLevel, str | None]]]


@dataclass(frozen=True)
class CreateOptions:
    region: str
    specs: tuple[SpecChoice, ...]
    key_stores: tuple[KeyStoreStatus, ...] = ()
    # Filled by ``create_options``: for each key store a key can be placed in (the default store
    # first) and each spec, the protection levels CreateKey takes there.
    store_levels: StoreLevels = field(default_factory=dict)

    def get(self, name: str) -> SpecChoice | None:
        return next((c for c in self.specs if c.spec.name == name), None)


@dataclass(frozen=True)
class Limits:
    keys_per_region: int = keys.DEFAULT_KEYS_PER_REGION
    aliases_per_region: int = DEFAULT_ALIASES_PER_REGION


_CREATE, _DESCRIBE, _LIST = action("CreateKey"), action("DescribeKey"), action("ListKeys")
_ENABLE, _DISABLE, _DESCRIPTION = action("EnableKey"), action("DisableKey"), action("UpdateKeyDescription")
_SCHEDULE, _CANCEL = action("ScheduleKeyDeletion"), action("CancelKeyDeletion")
_PROTECT, _GET_POLICY, _SET_POLICY = action("SetDeletionProtection"), action("GetKeyPolicy"), action("SetKeyPolicy")


class KeyService:
    def __init__(
        self,
        store: Store,
        resolver: KeyResolver,
        backends: Backends,
        clock: Clock,
        ids: IdGenerator,
        regions: RegionCatalogue,
        limits: Limits | None = None,
    ) -> None:
        self._store = store
        self._resolver = resolver
        self._backends = backends
        self._clock = clock
        self._ids = ids
        self._regions = regions
        self._limits = limits or Limits()

    def _now(self) -> int:
        return int(self._clock.now())

    # --- create -------------------------------------------------------------------------------

    def _check_create(self, region: str, req: CreateKeyRequest) -> tuple[SpecInfo, KeyUsage, CryptoBackend, str]:
        """Every rule CreateKey applies before it generates anything; raises the first broken one."""
        spec = spec_info(req.spec)
        usage = req.usage or spec.default_usage
        check_usage(spec, usage)
        if spec.mainland_only and not self._regions.get(region).mainland_china:
            raise errors.UnsupportedKeySpec(
                f"KeySpec {spec.name} is offered only in mainland China regions; {region} is not one."
            )
        if req.origin is Origin.EXTERNAL and not spec.symmetric:
            raise errors.UnsupportedOrigin("Origin=EXTERNAL is only for symmetric key specs.")
        if req.rotation_enabled and req.rotation_interval is None:
            raise errors.MissingParameter("RotationInterval")
        keys.check_description(req.description)
        if len(req.tags) > MAX_TAGS_PER_KEY:
            raise errors.LimitExceeded(f"A key carries at most {MAX_TAGS_PER_KEY} tags.")
        if req.policy is not None:
            policy.validate_policy(req.policy)
        if req.alias is not None:
            validate_alias_name(req.alias)
        store_id, backend = self._backends.place(req.protection_level, req.key_store_id, spec.name)
        return spec, usage, backend, store_id

    def _problem(self, region: str, req: CreateKeyRequest) -> str | None:
        """Why CreateKey refuses ``req`` in ``region`` (the error's detail, without the API's fixed
        wording), or None; nothing is generated."""
        try:
            self._check_create(region, req)
        except errors.KmsError as exc:
            return exc.detail or exc.message
        return None

    def capabilities(self, region: str) -> CreateOptions:
        """What CreateKey can make in ``region`` in the default key store, and why each refused
        choice is refused.

        Derived by running the same checks CreateKey runs, so the console offers exactly what the
        server does and lights new options up as the backends gain them.
        """
        choices: list[SpecChoice] = []
        for spec in SPECS.values():
            choices.append(
                SpecChoice(
                    spec=spec,
                    problem=self._problem(region, CreateKeyRequest(spec=spec.name)),
                    usages={u: self._problem(region, CreateKeyRequest(spec=spec.name, usage=u)) for u in KeyUsage},
                    levels={
                        lv: self._problem(region, CreateKeyRequest(spec=spec.name, protection_level=lv))
                        for lv in ProtectionLevel
                    },
                    origins={o: self._problem(region, CreateKeyRequest(spec=spec.name, origin=o)) for o in Origin},
                )
            )
        return CreateOptions(region, tuple(choices), tuple(self._backends.key_stores()))

    def create_options(self, caller: Caller) -> CreateOptions:
        """Everything the Create Key dialog offers ``caller`` in its region, in one call: the
        ``capabilities`` there, and for every key store and spec the protection levels CreateKey
        takes in that store, or why not.

        Not an API action, so it asks no authorizer: CreateKey itself does, when it is called.
        """
        options = self.capabilities(caller.region)
        stores = [DEFAULT_STORE, *dict.fromkeys(s.id for s in options.key_stores if s.id != DEFAULT_STORE)]
        levels: dict[str, dict[str, dict[ProtectionLevel, str | None]]] = {}
        for store_id in stores:
            levels[store_id] = {
                c.spec.name: {
                    lv: c.levels[lv]
                    if store_id == DEFAULT_STORE
                    else self._problem(
                        caller.region, CreateKeyRequest(spec=c.spec.name, protection_level=lv, key_store_id=store_id)
                    )
                    for lv in ProtectionLevel
                }
                for c in options.specs
            }
        return replace(options, store_levels=levels)

    def key_stores(self) -> list[KeyStoreStatus]:
        return self._backends.key_stores()

    def create_key(self, caller: Caller, req: CreateKeyRequest) -> Key:
        self._resolver.authorize(caller, _CREATE)
        spec, usage, backend, store_id = self._check_create(caller.region, req)

        now = self._now()
        key = Key(
            id=self._ids.new_id(),
            account_uid=caller.account_uid,
            region=caller.region,
            spec=spec.name,
            usage=usage,
            origin=req.origin,
            protection_level=req.protection_level,
            state=KeyState.ENABLED,
            created_at=now,
            creator=caller.account_uid,
            description=req.description,
            key_store_id=store_id,
            policy=req.policy,
        )
        if req.rotation_enabled:
            key = keys.update_rotation_policy(key, True, req.rotation_interval)
        if req.origin is Origin.EXTERNAL:
            key = replace(key, state=KeyState.PENDING_IMPORT)  # no material until it is imported
            self._add_key(caller, req, key, None)
            return key
        with Provisional() as made:
            version_id = self._ids.new_id()
            # Generate outside the transaction: key generation (RSA, an HSM round trip) must not
            # hold the database lock.
            if spec.symmetric:
                material = made.add(backend, backend.create_symmetric(spec, version_id))
                version = KeyVersion(version_id, key.id, now, material)
            else:
                material, public_key = backend.create_asymmetric(spec, version_id)
                version = KeyVersion(version_id, key.id, now, made.add(backend, material), public_key)
            key = keys.rotate(key, version_id, now)
            self._add_key(caller, req, key, version)
            made.keep()
        return key

    def _add_key(self, caller: Caller, req: CreateKeyRequest, key: Key, version: KeyVersion | None) -> None:
        with self._store.write() as uow:
            if uow.keys.count(caller.account_uid, caller.region) >= self._limits.keys_per_region:
                raise errors.LimitExceeded(f"At most {self._limits.keys_per_region} keys per account and region.")
            uow.keys.add(key)
            if version is not None:
                uow.versions.add(version)
            if req.tags:
                uow.tags.replace(key.id, list({t.key: t for t in req.tags}.values()))
            if req.alias is not None:
                add_alias(uow, caller, req.alias, key.id, key.created_at, self._limits.aliases_per_region)

    # --- read ---------------------------------------------------------------------------------

    def describe_key(self, caller: Caller, ref: str) -> Key:
        return self._read(caller, ref, _DESCRIBE)

    def _read(self, caller: Caller, ref: str, act: Action) -> Key:
        with self._store.read() as uow:
            return self._resolver.key(uow, caller, ref, act, self._now())

    def list_keys(
        self,
        caller: Caller,
        page: listing.Page,
        filters: Sequence[listing.Filter] = (),
        search: str = "",
        newest_first: bool = False,
        describable: bool = False,
    ) -> tuple[list[Key], int]:
        """ListKeys: the caller's live keys in its region that pass ``filters`` (the API's
        Filters) and, when ``search`` is given, whose id or an alias contains it (the console's
        search box); in creation order, or the newest first. Returns one page and the total.

        ``describable`` (the console, which shows each key's details): not ListKeys on the keys
        as a whole but, key by key, those the caller may DescribeKey; a RAM user allowed one key
        sees that key."""
        listing.check_filters(filters)
        now = self._now()
        with self._store.read() as uow:
            live = [k for k in uow.keys.list_in_region(caller.account_uid, caller.region) if not k.is_gone(now)]
            if not describable:
                live = self._resolver.visible(caller, _LIST, keys_of(caller), live, key_resource)
            if filters:
                live = self._filter(uow, live, filters)
            if search.strip() and live:
                names = alias_names(uow, caller.account_uid, caller.region)
                live = [k for k in live if listing.search_matches(search, k.id, names.get(k.id, ()))]
        if describable:  # the authorizer reads the keys' tags in reads of its own
            live = [k for k in live if self._resolver.allowed(caller, _DESCRIBE, key_resource(effective(k, now)))]
        if newest_first:
            live.sort(key=lambda k: (-k.created_at, k.id))
        return page.slice(live), len(live)

    def _filter(self, uow: UnitOfWork, candidates: list[Key], filters: Sequence[listing.Filter]) -> list[Key]:
        wanted = {f.key for f in filters}
        if not candidates:
            return []
        account, region = candidates[0].account_uid, candidates[0].region
        tags = uow.tags.list_for_region(account, region) if wanted & {"TagKey", "TagValue"} else {}
        aliases = alias_names(uow, account, region) if "AliasName" in wanted else {}

        def attributes_of(key: Key) -> dict[str, set[str]]:
            return {
                "KeyState": {key.state.value},
                "KeySpec": {key.spec},
                "KeyUsage": {key.usage.value},
                "ProtectionLevel": {key.protection_level.value},
                "Origin": {key.origin.value},
                "CreatorType": {"User"},
                "DKMSInstanceId": {key.key_store_id},
                "keyId": {key.id},
                "AliasName": set(aliases.get(key.id, ())),
                "Creator": {key.creator},
                "TagKey": {t.key for t in tags.get(key.id, [])},
                "TagValue": {t.value for t in tags.get(key.id, [])},
            }

        out = []
        for key in candidates:
            attrs = attributes_of(key)
            if listing.matches(filters, lambda name, a=attrs: a[name]):  # type: ignore[misc]
                out.append(key)
        return out

    # --- change -------------------------------------------------------------------------------

    def _change(self, caller: Caller, ref: str, act: Action, change: Callable[[Key, int], Key]) -> Key:
        now = self._now()
        discards = Discards()
        with self._store.write() as uow:
            key = self._resolver.for_update(uow, caller, ref, act, now, self._backends, discards)
            new = change(key, now)
            if new != key:
                uow.keys.save(new)
        discards.run()
        return new

    def enable_key(self, caller: Caller, ref: str) -> Key:
        return self._change(caller, ref, _ENABLE, lambda k, _now: keys.enable(k))

    def disable_key(self, caller: Caller, ref: str) -> Key:
        return self._change(caller, ref, _DISABLE, lambda k, _now: keys.disable(k))

    def update_description(self, caller: Caller, ref: str, description: str) -> Key:
        return self._change(caller, ref, _DESCRIPTION, lambda k, _now: keys.update_description(k, description))

    def schedule_deletion(self, caller: Caller, ref: str, window_days: int) -> Key:
        return self._change(caller, ref, _SCHEDULE, lambda k, now: keys.schedule_deletion(k, window_days, now))

    def cancel_deletion(self, caller: Caller, ref: str) -> Key:
        discards = Discards()
        with self._store.write() as uow:
            key = self._resolver.for_update(uow, caller, ref, _CANCEL, self._now(), self._backends, discards)
            new = keys.cancel_deletion(key, has_material(uow, key))
            uow.keys.save(new)
        discards.run()
        return new

    def set_deletion_protection(self, caller: Caller, ref: str, enabled: bool, description: str = "") -> Key:
        keys.check_description(description, "DeletionProtectionDescription")
        return self._change(
            caller, ref, _PROTECT, lambda k, _now: keys.set_deletion_protection(k, enabled, description)
        )

    # --- policy -------------------------------------------------------------------------------

    def get_policy(self, caller: Caller, ref: str, name: str | None) -> str:
        policy.check_policy_name(name)
        key = self._read(caller, ref, _GET_POLICY)
        return key.policy if key.policy is not None else policy.default_policy(key.account_uid)

    def set_policy(self, caller: Caller, ref: str, name: str | None, text: str) -> None:
        policy.check_policy_name(name)
        policy.validate_policy(text)
        self._change(caller, ref, _SET_POLICY, lambda k, _now: keys.set_policy(k, text))
