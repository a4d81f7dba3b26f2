"""The ports the service layer depends on. Adapters (crypto/, storage/) implement them.

Adapters translate their libraries' exceptions into ``openkms.domain.errors``; nothing foreign
crosses a port.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from openkms.domain.aliases import Alias
from openkms.domain.identity import AccessKey, Account
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.specs import SpecInfo
from openkms.domain.tags import Tag


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A fresh lower-case UUID."""
        ...


class Sealer(Protocol):
    """Seals data at rest under the root key. ``aad`` names the row the data belongs to."""

    def seal(self, plaintext: bytes, aad: bytes) -> bytes: ...

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        """Raises ``IntegrityError`` when the data or its row identity was tampered with."""
        ...


class CryptoBackend(Protocol):
    """Generates and uses key material. One instance per protection level / key store."""

    def create_symmetric(self, spec: SpecInfo, version_id: str) -> bytes:
        """Generate material for a new version; returns the reference to store (never plain material)."""
        ...

    def encrypt(
        self, spec: SpecInfo, version: KeyVersion, aad: bytes, plaintext: bytes
    ) -> tuple[bytes, bytes, bytes]:
        """Returns (salt, nonce, ciphertext+tag) for the layout in ``domain/ciphertext.py``."""
        ...

    def decrypt(
        self, spec: SpecInfo, version: KeyVersion, aad: bytes, salt: bytes, nonce: bytes, sealed: bytes
    ) -> bytes:
        """Raises ``InvalidCiphertext`` when authentication fails."""
        ...

    def random_bytes(self, n: int) -> bytes: ...


class KeyRepository(Protocol):
    def get(self, account_uid: str, region: str, key_id: str) -> Key | None: ...
    def add(self, key: Key) -> None: ...
    def save(self, key: Key) -> None: ...
    def list(self, account_uid: str, region: str) -> list[Key]: ...
    def count(self, account_uid: str, region: str) -> int: ...
    def due_for_rotation(self, now: int) -> list[Key]: ...
    def past_deletion(self, now: int) -> list[Key]: ...
    def purge(self, key_id: str) -> None:
        """Remove the key with its versions, aliases and tags."""
        ...


class VersionRepository(Protocol):
    def add(self, version: KeyVersion) -> None: ...
    def get(self, version_id: str) -> KeyVersion | None: ...
    def list(self, key_id: str) -> list[KeyVersion]:
        """Newest first."""
        ...


class AliasRepository(Protocol):
    def get(self, account_uid: str, region: str, name: str) -> Alias | None: ...
    def add(self, alias: Alias) -> None: ...
    def retarget(self, alias: Alias, key_id: str) -> None: ...
    def delete(self, alias: Alias) -> None: ...
    def list(self, account_uid: str, region: str) -> list[Alias]: ...
    def list_for_key(self, key_id: str) -> list[Alias]: ...
    def count(self, account_uid: str, region: str) -> int: ...


class TagRepository(Protocol):
    def list(self, key_id: str) -> list[Tag]: ...
    def list_many(self, key_ids: list[str]) -> dict[str, list[Tag]]: ...
    def replace(self, key_id: str, tags: list[Tag]) -> None: ...


class AccountRepository(Protocol):
    def get(self, uid: str) -> Account | None: ...
    def add(self, account: Account) -> None: ...
    def list(self) -> list[Account]: ...


class AccessKeyRepository(Protocol):
    def get(self, access_key_id: str) -> AccessKey | None: ...
    def add(self, access_key: AccessKey) -> None: ...
    def save(self, access_key: AccessKey) -> None: ...
    def delete(self, access_key_id: str) -> None: ...
    def list(self) -> list[AccessKey]: ...


class UnitOfWork(Protocol):
    keys: KeyRepository
    versions: VersionRepository
    aliases: AliasRepository
    tags: TagRepository
    accounts: AccountRepository
    access_keys: AccessKeyRepository


class Store(Protocol):
    def read(self) -> AbstractContextManager[UnitOfWork]:
        """A consistent snapshot for reading."""
        ...

    def write(self) -> AbstractContextManager[UnitOfWork]:
        """A transaction: committed when the block ends normally, rolled back on any exception."""
        ...


class NonceCache(Protocol):
    def claim(self, nonce: str, now: float) -> bool:
        """Record ``nonce``; False if it was already seen within the replay window."""
        ...


