"""A seed: the data a dev server starts from and resets to, as plain values (``docs/SEED.md``).

The file's format (TOML, a JSON Schema) is read by ``openkms.seedfile``; these are what it reads
into, and the rules a seed must keep beyond its shape. Material is either given or derived:
HKDF-SHA256 over the seed's ``material_seed`` with the key id and version id as its info, so a
seed file can name reproducible keys without carrying a byte of material.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

FORMAT_VERSION = 1
HKDF_SALT = b"openkms/seed-material/v1"
_VERSION_NAMESPACE = uuid.UUID("5f1d7d6e-2a43-4c8e-9a55-0b9c1f3e7a10")

# A path into the seed document, as a JSON Schema validator reports one: ("keys", 2, "versions", 0).
Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SeedAccessKey:
    id: str
    secret: str = field(repr=False)
    account: str  # an account uid, "" for the administrator's
    user: str = ""  # a RAM user of the account, "" for the account's own pair
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class SeedUser:
    account: str
    name: str
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class SeedVersion:
    id: str
    material: bytes | None = field(default=None, repr=False)  # raw (symmetric) or PKCS#8 DER (asymmetric)
    derive: bool = False  # the material is derived from the seed's material_seed
    created_at: int | None = None


@dataclass(frozen=True, slots=True)
class SeedKey:
    id: str
    account: str
    region: str  # "" for the server's default region
    spec: str
    usage: str
    state: str
    versions: tuple[SeedVersion, ...]  # oldest first; the last is the primary
    description: str = ""
    creator: str = ""
    delete_at: int | None = None
    aliases: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    rotation_interval: int | None = None  # automatic rotation on, every this many seconds
    created_at: int | None = None


@dataclass(frozen=True, slots=True)
class SeedSecretVersion:
    id: str
    value: str = field(repr=False)
    stages: tuple[str, ...] = ()
    created_at: int | None = None
    data_type: str = "text"  # binary: ``value`` is the bytes in base64


@dataclass(frozen=True, slots=True)
class SeedSecret:
    name: str
    account: str
    region: str
    key: str  # the KeyId of a seeded symmetric key
    versions: tuple[SeedSecretVersion, ...]
    description: str = ""
    service_key: bool = False  # the key is the account's service-managed key
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Seed:
    accounts: tuple[str, ...] = ()
    users: tuple[SeedUser, ...] = ()
    access_keys: tuple[SeedAccessKey, ...] = ()
    keys: tuple[SeedKey, ...] = ()
    secrets: tuple[SeedSecret, ...] = ()
    material_seed: str = field(default="", repr=False)
    # Where each entry came from in its file (for messages about a rule the whole seed breaks).
    origins: dict[Path, int] = field(default_factory=dict, compare=False, repr=False)


class SeedProblem(Exception):
    """A rule the seed breaks, at ``path`` in its document."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def hkdf(key: bytes, info: bytes, length: int, salt: bytes = HKDF_SALT) -> bytes:
    """HKDF-SHA256 (RFC 5869): extract, then expand."""
    prk = hmac.new(salt, key, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def version_id(key_id: str, index: int) -> str:
    """The id of a key's version the seed gives none: a UUID from the key id and its place."""
    return str(uuid.uuid5(_VERSION_NAMESPACE, f"{key_id}/{index}"))


def derived_material(material_seed: str, key_id: str, version_id: str, length: int) -> bytes:
    """A version's material from the seed string: the same seed, key and version give the same bytes."""
    return hkdf(material_seed.encode(), f"{key_id}/{version_id}".encode(), length)


def check(seed: Seed) -> Iterator[SeedProblem]:
    """The rules across entries (unique ids, what a reference names); each entry's own rules are
    checked as it is read."""
    accounts = set(seed.accounts)
    users = {(u.account, u.name) for u in seed.users}
    yield from _duplicates("accounts", list(seed.accounts), None)
    yield from _duplicates("users", [(u.account, u.name) for u in seed.users], "name")
    yield from _duplicates("access_keys", [k.id for k in seed.access_keys], "id")
    yield from _duplicates("keys", [k.id for k in seed.keys], "id")
    for i, user in enumerate(seed.users):
        if user.account and user.account not in accounts:
            yield SeedProblem(("users", i, "account"), f"no account {user.account!r} in accounts")
    for i, pair in enumerate(seed.access_keys):
        if pair.account and pair.account not in accounts:
            yield SeedProblem(("access_keys", i, "account"), f"no account {pair.account!r} in accounts")
        if pair.user and (pair.account, pair.user) not in users:
            yield SeedProblem(("access_keys", i, "user"), f"no user {pair.user!r} in that account's users")
    yield from _check_keys(seed, accounts)
    yield from _check_secrets(seed, accounts)


def _duplicates(table: str, ids: list[object], name: str | None) -> Iterator[SeedProblem]:
    seen: set[object] = set()
    for i, value in enumerate(ids):
        if value in seen:
            shown = value[-1] if isinstance(value, tuple) else value
            yield SeedProblem((table, i, name) if name else (table, i), f"{shown!r} is declared twice")
        seen.add(value)


def _check_keys(seed: Seed, accounts: set[str]) -> Iterator[SeedProblem]:
    aliases: set[tuple[str, str, str]] = set()
    versions: set[str] = set()
    for i, key in enumerate(seed.keys):
        if key.account and key.account not in accounts:
            yield SeedProblem(("keys", i, "account"), f"no account {key.account!r} in accounts")
        for name in key.aliases:
            if (key.account, key.region, name) in aliases:
                yield SeedProblem(("keys", i, "aliases"), f"the alias {name} names two keys")
            aliases.add((key.account, key.region, name))
        for j, version in enumerate(key.versions):
            if version.id in versions:
                yield SeedProblem(("keys", i, "versions", j, "id"), f"the version id {version.id} is used twice")
            versions.add(version.id)
            if version.derive and not seed.material_seed:
                yield SeedProblem(("keys", i, "versions", j, "derive"), "derive = true needs material_seed")


def _check_secrets(seed: Seed, accounts: set[str]) -> Iterator[SeedProblem]:
    keys = {(k.account, k.region, k.id): k for k in seed.keys}
    names: set[tuple[str, str, str]] = set()
    for i, secret in enumerate(seed.secrets):
        where = (secret.account, secret.region, secret.name)
        if where in names:
            yield SeedProblem(("secrets", i, "name"), f"the secret {secret.name!r} is declared twice")
        names.add(where)
        if secret.account and secret.account not in accounts:
            yield SeedProblem(("secrets", i, "account"), f"no account {secret.account!r} in accounts")
        key = keys.get((secret.account, secret.region, secret.key))
        if key is None:
            yield SeedProblem(("secrets", i, "key"), f"no key {secret.key!r} of the same account and region in keys")
        elif not key.spec.startswith("Aliyun_") or key.usage != "ENCRYPT/DECRYPT":
            yield SeedProblem(("secrets", i, "key"), f"the key {secret.key!r} is not a symmetric ENCRYPT/DECRYPT key")
        current = [v.id for v in secret.versions if "ACSCurrent" in v.stages]
        if len(current) != 1:
            yield SeedProblem(("secrets", i, "versions"), "exactly one version must have the stage ACSCurrent")
        stages = [s for v in secret.versions for s in v.stages]
        if len(stages) != len(set(stages)):
            yield SeedProblem(("secrets", i, "versions"), "a stage is on one version only")
