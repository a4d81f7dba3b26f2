"""Real services over a real SQLite store, a real software backend and a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openkms.crypto.sealing import AesGcmSealer
from openkms.crypto.software import SoftwareBackend
from openkms.domain.authorization import AllowAll
from openkms.domain.identity import Caller
from openkms.domain.ports import Store
from openkms.domain.regions import DEFAULT_REGION, DEFAULT_REGIONS, RegionCatalogue
from openkms.domain.specs import ProtectionLevel
from openkms.service.backends import DEFAULT_STORE, Backends, KeyStore
from openkms.service.keys import KeyService
from openkms.service.resolve import KeyResolver
from openkms.service.versions import VersionService
from openkms.storage.factory import open_store
from openkms.storage.sql import SqlStore
from openkms.system import ManualClock, UuidGenerator

T0 = 1_700_000_000.0
CALLER = Caller("1000000000000001", "cn-hangzhou", "LTAI-test")
RESOLVER = KeyResolver(AllowAll())


@dataclass
class World:
    path: Path
    store: SqlStore
    clock: ManualClock
    backends: Backends
    regions: RegionCatalogue

    def keys(self, store: Store | None = None) -> KeyService:
        return KeyService(store or self.store, RESOLVER, self.backends, self.clock, UuidGenerator(), self.regions)

    def versions(self, store: Store | None = None) -> VersionService:
        return VersionService(store or self.store, RESOLVER, self.backends, self.clock, UuidGenerator())

    def open_second_store(self) -> SqlStore:
        """Another store on the same database file, as a second worker process would have."""
        return open_store(None, self.path, run_migrations=False)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    path = tmp_path / "openkms.sqlite3"
    store = open_store(None, path)
    backend = SoftwareBackend(AesGcmSealer(bytes(range(32))), pool_size=0)
    w = World(
        path,
        store,
        ManualClock(T0),
        Backends([KeyStore(DEFAULT_STORE, ProtectionLevel.SOFTWARE, backend)]),
        RegionCatalogue(DEFAULT_REGIONS, DEFAULT_REGION),
    )
    yield w
    backend.close()
    store.dispose()
