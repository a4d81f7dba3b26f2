"""Key stores: which crypto backend keeps which keys. Built once at start-up by the composition root.

A key store is a security domain (the seed's "KeyStore"; the API's ``DKMSInstanceId``). The
default store, id ``""``, keeps SOFTWARE keys with the software backend and HSM keys in the
default HSM (openkms's own SoftHSM2 token, or the key store an operator names as the default).
Further stores are PKCS#11 tokens an operator configured; a key names its store for life.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openkms.domain import errors
from openkms.domain.keys import Key
from openkms.domain.ports import CryptoBackend, ObjectInventory
from openkms.domain.specs import ProtectionLevel

DEFAULT_STORE = ""


@dataclass(frozen=True)
class KeyStore:
    """One backend at one protection level, or the reason it cannot serve."""

    id: str
    protection_level: ProtectionLevel
    backend: CryptoBackend | None
    description: str = ""
    # Why the store cannot serve at all (e.g. SoftHSM2 is not installed): nothing is created in it.
    # (What its backend cannot do, it says itself: ``CryptoBackend.capabilities``.)
    unavailable: str | None = None
    # Its backend seen as the objects it keeps outside the database (a token), for reconciliation.
    inventory: ObjectInventory | None = None


@dataclass(frozen=True)
class KeyStoreStatus:
    id: str
    protection_level: ProtectionLevel
    description: str
    available: bool
    reason: str
    default: bool


class Backends:
    def __init__(self, stores: Sequence[KeyStore], default_hsm: str = DEFAULT_STORE) -> None:
        self._stores = {(s.id, s.protection_level): s for s in stores}
        self._ids = {s.id for s in stores if s.id != DEFAULT_STORE}
        self._default_hsm = default_hsm

    def _store(self, store_id: str, level: ProtectionLevel) -> KeyStore:
        if store_id == DEFAULT_STORE and level is ProtectionLevel.HSM:
            store_id = self._default_hsm
        store = self._stores.get((store_id, level))
        if store is None:
            if store_id != DEFAULT_STORE and store_id not in self._ids:
                raise errors.InvalidParameter("DKMSInstanceId", f"No key store is named {store_id!r}.")
            if store_id == DEFAULT_STORE:
                raise errors.UnsupportedProtectionLevel(f"{level} keys are not configured.")
            kept = next(lv for (sid, lv) in self._stores if sid == store_id)
            raise errors.InvalidParameter(
                "ProtectionLevel", f"Key store {store_id} keeps keys with ProtectionLevel {kept}."
            )
        return store

    def place(self, level: ProtectionLevel, store_id: str, spec_name: str) -> tuple[str, CryptoBackend]:
        """Where a new key of ``spec_name`` goes: (the store id it will name for life, its backend)."""
        store = self._store(store_id, level)
        if store.unavailable is not None or store.backend is None:
            raise errors.UnsupportedProtectionLevel(store.unavailable or f"{level} keys are not configured.")
        reason = store.backend.capabilities().specs.get(spec_name)
        if reason is not None:
            raise errors.UnsupportedKeySpec(reason)
        return store.id, store.backend

    def for_key(self, key: Key) -> CryptoBackend:
        store = self._stores.get((key.key_store_id, key.protection_level))
        if store is None or store.backend is None:
            # The key was made in a store that is no longer configured (or cannot load here).
            raise errors.BackendUnavailable(
                f"The key store {key.key_store_id or 'default'} of this key is not available."
            )
        return store.backend

    def all_backends(self) -> list[CryptoBackend]:
        return [s.backend for s in self._stores.values() if s.backend is not None]

    def close(self) -> None:
        """Close every store's backend (at the end of the process)."""
        for backend in self.all_backends():
            backend.close()

    def inventories(self) -> list[tuple[str, ObjectInventory]]:
        """(store id, inventory) of every store that keeps key material outside the database."""
        found = [(s.id, s.inventory) for s in self._stores.values() if s.inventory is not None]
        return sorted(found, key=lambda pair: pair[0])

    def health(self) -> list[tuple[str, ProtectionLevel, str | None]]:
        """(store id, level, why it cannot be reached or None) of every store that serves: a
        store outside the database (a token) is asked now; the software store always answers."""
        found: list[tuple[str, ProtectionLevel, str | None]] = []
        for store in self._stores.values():
            if store.backend is None or store.unavailable is not None:
                continue  # not configured to serve (SoftHSM2 absent, HSM keys switched off)
            failure = None
            if store.inventory is not None:
                try:
                    store.inventory.probe()
                except errors.KmsError as exc:
                    failure = exc.message.removeprefix("Service Unavailable Temporary. ")
            found.append((store.id, store.protection_level, failure))
        return sorted(found, key=lambda row: (row[0], row[1].value))

    def key_stores(self) -> list[KeyStoreStatus]:
        """For the console: every store, whether it can take new keys, and why not."""
        out = []
        for store in self._stores.values():
            default = store.id == DEFAULT_STORE or (
                store.protection_level is ProtectionLevel.HSM and store.id == self._default_hsm
            )
            out.append(
                KeyStoreStatus(
                    store.id,
                    store.protection_level,
                    store.description,
                    store.unavailable is None and store.backend is not None,
                    store.unavailable or "",
                    default,
                )
            )
        return sorted(out, key=lambda s: (s.id != DEFAULT_STORE, s.id, s.protection_level.value))
