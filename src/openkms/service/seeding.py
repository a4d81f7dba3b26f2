"""Seeds: the data a dev server starts from and its reset returns to, loaded and exported.

Loading builds every row first — material sealed by the software backend like any key's, secret
values sealed in their envelope under their seeded key — and then writes them in the transaction
that erases the data (``Store.erase``), so a seed is loaded whole or not at all, and a reset to it
costs one transaction. Exporting reads the data back into a seed, material and values in clear:
it is for dev servers only (the control API refuses it otherwise).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from openkms.domain import errors, keys
from openkms.domain.aliases import Alias
from openkms.domain.identity import AccessKey, Account
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.ports import Clock, MaterialTransfer, Store, UnitOfWork
from openkms.domain.ram.identities import User
from openkms.domain.regions import RegionCatalogue
from openkms.domain.secrets import DataType, Secret, SecretType, SecretVersion
from openkms.domain.seed import (
    Seed,
    SeedAccessKey,
    SeedKey,
    SeedProblem,
    SeedSecret,
    SeedSecretVersion,
    SeedUser,
    SeedVersion,
    derived_material,
)
from openkms.domain.specs import KeyUsage, Origin, ProtectionLevel, spec_info
from openkms.domain.states import KeyState
from openkms.domain.tags import Tag
from openkms.service.backends import Backends
from openkms.service.identity import IdentityService
from openkms.service.secret_values import Sealed, SecretValues

SEEDED_AT = "seed-loaded-at"  # the node value: when the seed was first loaded (epoch seconds)


@dataclass
class _Rows:
    accounts: list[Account] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    access_keys: list[AccessKey] = field(default_factory=list)
    keys: list[Key] = field(default_factory=list)
    versions: list[KeyVersion] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    tags: dict[str, list[Tag]] = field(default_factory=dict)
    secrets: list[Secret] = field(default_factory=list)
    secret_versions: list[SecretVersion] = field(default_factory=list)

    def write(self, uow: UnitOfWork) -> None:
        for account in self.accounts:
            uow.accounts.add(account)
        for user in self.users:
            uow.users.add(user)
        for pair in self.access_keys:
            if uow.access_keys.get(pair.id) is not None:  # one of the administrator's, kept by the erase
                uow.access_keys.delete(pair.id)
            uow.access_keys.add(pair)
        # A seed may hold hundreds of keys, and a reset loads it before every test: one statement
        # per table (benchmarks/testkit.py measures it).
        uow.keys.add_many(self.keys)
        uow.versions.add_many(self.versions)
        uow.aliases.add_many(self.aliases)
        uow.tags.add_many(self.tags)
        for secret in self.secrets:
            uow.secrets.add(secret)
        for secret_version in self.secret_versions:
            uow.secrets.add_version(secret_version)


def _user_id(account: str, name: str) -> str:
    """Stable for a seed's user: 16 digits from its account and name."""
    digest = int.from_bytes(hashlib.sha256(f"{account}/{name}".encode()).digest()[:8], "big")
    return str(10**15 + digest % (9 * 10**15))


class SeedService:
    def __init__(
        self, store: Store, identity: IdentityService, backends: Backends, material: MaterialTransfer,
        values: SecretValues, regions: RegionCatalogue, clock: Clock,
    ) -> None:  # fmt: skip
        self._store = store
        self._identity = identity
        self._backends = backends
        self._material = material
        self._values = values
        self._regions = regions
        self._clock = clock
        self._built: tuple[Seed, str, int, _Rows] | None = None

    def load(self, seed: Seed, again: bool = False) -> None:
        """The data becomes the seed's: everything else gone but the administrator's own pairs.
        Entries without a time of their own are dated at the first load, and ``again`` (a reset)
        dates them the same, so a reset gives back exactly the data the server started with.
        ``SeedProblem`` (at the entry's path) for what the server cannot hold (an unknown region,
        a private key not of its spec), and nothing is changed then."""
        admin = self._identity.account()
        stored = self._store.node_value(SEEDED_AT) if again else None
        now = int(stored.decode()) if stored else int(self._clock.now())
        built = self._built
        if built is None or built[0] is not seed or built[1:3] != (admin, now):
            # Built once per seed and time: a reset reuses the sealed material and envelopes.
            built = self._built = (seed, admin, now, self._rows(seed, admin, now))
        self._store.erase(admin, built[3].write)
        if stored is None:
            self._store.set_node_value(SEEDED_AT, str(now).encode())

    def _rows(self, seed: Seed, admin: str, now: int) -> _Rows:
        rows = _Rows()
        rows.accounts = [Account(uid, now) for uid in seed.accounts]
        for user in seed.users:
            account = user.account or admin
            rows.users.append(User(account, user.name, _user_id(account, user.name), now, now, user.display_name))
        for pair in seed.access_keys:
            rows.access_keys.append(
                self._identity.pair(pair.account or admin, pair.id, pair.secret, pair.user, pair.enabled, now)
            )
        made: dict[tuple[str, str, str], tuple[Key, KeyVersion]] = {}
        for i, entry in enumerate(seed.keys):
            key, versions = self._key(("keys", i), seed, entry, admin, now)
            rows.keys.append(key)
            rows.versions.extend(versions)
            rows.aliases.extend(Alias(name, key.id, key.account_uid, key.region, now) for name in entry.aliases)
            if entry.tags:
                rows.tags[key.id] = [Tag(k, v) for k, v in entry.tags]
            made[(entry.account, entry.region, entry.id)] = (key, versions[-1])
        for i, secret in enumerate(seed.secrets):
            key, primary = made[(secret.account, secret.region, secret.key)]
            self._secret(rows, ("secrets", i), secret, key, primary, now)
        return rows

    def _region(self, path: tuple[str | int, ...], region: str) -> str:
        try:
            return self._regions.get(region).id if region else self._regions.default
        except errors.KmsError as exc:
            raise SeedProblem((*path, "region"), exc.message) from None

    def _key(
        self, path: tuple[str | int, ...], seed: Seed, entry: SeedKey, admin: str, now: int
    ) -> tuple[Key, list[KeyVersion]]:
        spec = spec_info(entry.spec)
        region = self._region(path, entry.region)
        try:
            store_id, _ = self._backends.place(ProtectionLevel.SOFTWARE, "", spec.name)
            if spec.mainland_only and not self._regions.get(region).mainland_china:
                raise errors.UnsupportedKeySpec(f"{spec.name} keys are offered in mainland China regions only.")
        except errors.KmsError as exc:
            raise SeedProblem((*path, "spec"), exc.message) from None
        versions = []
        for j, given in enumerate(entry.versions):
            material = given.material
            if given.derive:
                material = derived_material(seed.material_seed, entry.id, given.id, spec.material_bytes)
            try:
                ref, public = self._material.adopt(spec, given.id, material)
            except errors.KmsError as exc:
                raise SeedProblem((*path, "versions", j), exc.message) from None
            versions.append(KeyVersion(given.id, entry.id, given.created_at or now, ref, public))
        created = entry.created_at or versions[0].created_at
        key = Key(
            entry.id, entry.account or admin, region, spec.name, KeyUsage(entry.usage), Origin.ALIYUN_KMS,
            ProtectionLevel.SOFTWARE, KeyState(entry.state), created, entry.creator or entry.account or admin,
            entry.description, rotation_enabled=entry.rotation_interval is not None,
            rotation_interval=entry.rotation_interval, delete_at=entry.delete_at, key_store_id=store_id,
        )  # fmt: skip
        return keys.rotate(key, versions[-1].id, versions[-1].created_at), versions

    def _secret(
        self, rows: _Rows, path: tuple[str | int, ...], entry: SeedSecret, key: Key, primary: KeyVersion, now: int
    ) -> None:
        region = key.region
        rows.secrets.append(
            Secret(
                key.account_uid,
                region,
                entry.name,
                SecretType.GENERIC,
                entry.description,
                key.id,
                entry.service_key,
                None,
                now,
                now,
                tags=tuple(Tag(k, v) for k, v in entry.tags),
            )
        )
        for j, version in enumerate(entry.versions):
            data_type = DataType(version.data_type)
            try:
                raw = version.value.encode() if data_type is DataType.TEXT else base64.b64decode(version.value)
            except ValueError:
                raise SeedProblem((*path, "versions", j, "value"), "a binary value is base64") from None
            sealed = self._values.seal(key, primary, (key.account_uid, region, entry.name, version.id), raw)
            rows.secret_versions.append(
                SecretVersion(
                    key.account_uid,
                    region,
                    entry.name,
                    version.id,
                    version.created_at or now,
                    data_type,
                    version.stages,
                    sealed.data_key,
                    sealed.value,
                )
            )

    # --- export -------------------------------------------------------------------------------

    def export(self) -> tuple[Seed, list[str]]:
        """The data as a seed, and the keys it leaves out (not software keys, or without material)."""
        admin = self._identity.account()
        now = int(self._clock.now())
        skipped: list[str] = []
        with self._store.read() as uow:
            accounts = [a.uid for a in uow.accounts.list_all()]
            users = [
                SeedUser(_shown(u.account_uid, admin), u.name, u.display_name)
                for uid in accounts
                for u in uow.users.list_all(uid)
            ]
            pairs = [self._pair(p, admin) for p in uow.access_keys.list_all()]
            seed_keys: list[SeedKey] = []
            seed_secrets: list[SeedSecret] = []
            for uid in accounts:
                for region in self._regions.regions:
                    for key in uow.keys.list_in_region(uid, region.id):
                        exported = self._export_key(uow, key, admin, now)
                        if exported is None:
                            skipped.append(key.id)
                        else:
                            seed_keys.append(exported)
                    seed_secrets.extend(self._export_secrets(uow, uid, region.id, admin))
        seed = Seed(
            accounts=tuple(uid for uid in accounts if uid != admin),
            users=tuple(users),
            access_keys=tuple(pairs),
            keys=tuple(seed_keys),
            secrets=tuple(seed_secrets),
        )
        return seed, skipped

    def _pair(self, pair: AccessKey, admin: str) -> SeedAccessKey:
        secret = self._identity.credential(pair.id).secret
        return SeedAccessKey(pair.id, secret, _shown(pair.account_uid, admin), pair.user_name, pair.status == "Enabled")

    def _export_key(self, uow: UnitOfWork, key: Key, admin: str, now: int) -> SeedKey | None:
        if key.protection_level is not ProtectionLevel.SOFTWARE or key.is_gone(now):
            return None
        stored = [v for v in reversed(uow.versions.list_for_key(key.id)) if v.material_ref]
        if not stored or key.state is KeyState.PENDING_IMPORT:
            return None
        # The primary version last: a seed's last version is its key's primary.
        stored.sort(key=lambda v: v.id == key.primary_version_id)
        material = self._backends.for_key(key)
        versions = tuple(SeedVersion(v.id, self._reveal(material, key, v), False, v.created_at) for v in stored)
        return SeedKey(
            id=key.id, account=_shown(key.account_uid, admin), region=key.region, spec=key.spec,
            usage=key.usage.value, state=key.state.value, versions=versions, description=key.description,
            creator=key.creator if key.creator != key.account_uid else "", delete_at=key.delete_at,
            aliases=tuple(a.name for a in uow.aliases.list_for_key(key.id)),
            tags=tuple(sorted((t.key, t.value) for t in uow.tags.for_key(key.id))),
            rotation_interval=key.rotation_interval if key.rotation_enabled else None, created_at=key.created_at,
        )  # fmt: skip

    def _reveal(self, backend: object, key: Key, version: KeyVersion) -> bytes:
        if backend is not self._material:
            raise errors.UnsupportedOperation(f"The material of key {key.id} cannot be exported.")
        return self._material.reveal(key.spec_info, version)

    def _export_secrets(self, uow: UnitOfWork, uid: str, region: str, admin: str) -> list[SeedSecret]:
        out = []
        for secret in uow.secrets.list_in_region(uid, region):
            if secret.delete_at is not None:
                continue  # scheduled for deletion: a seed declares live secrets only
            key = uow.keys.get(uid, region, secret.encryption_key_id)
            if key is None:
                continue
            versions = []
            for v in uow.secrets.versions(secret):
                raw = self._values.open(
                    uow, key, (uid, region, secret.name, v.version_id), Sealed(v.sealed_data_key, v.sealed_value)
                )
                value = raw.decode() if v.data_type is DataType.TEXT else base64.b64encode(raw).decode()
                versions.append(SeedSecretVersion(v.version_id, value, v.stages, v.created_at, v.data_type.value))
            out.append(
                SeedSecret(
                    secret.name,
                    _shown(uid, admin),
                    region,
                    key.id,
                    tuple(versions),
                    secret.description,
                    secret.service_key,
                    tuple(sorted((t.key, t.value) for t in secret.tags)),
                )
            )
        return out


def _shown(account_uid: str, admin: str) -> str:
    return "" if account_uid == admin else account_uid
