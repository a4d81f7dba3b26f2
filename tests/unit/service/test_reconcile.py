"""Reconciling a real SoftHSM2 token with a real SQLite database: orphans (objects no row
references) are reported, and destroyed only when they stay orphans for the grace period; the
objects of keys, other applications' objects and the root key are never touched."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from openkms.crypto import pkcs11 as hsm
from openkms.crypto.lazy import LazyBackend
from openkms.crypto.sealing import AesGcmSealer
from openkms.crypto.software import SoftwareBackend
from openkms.domain.keys import KeyVersion
from openkms.domain.regions import DEFAULT_REGION, DEFAULT_REGIONS, RegionCatalogue
from openkms.domain.specs import SPECS, KeyUsage, ProtectionLevel
from openkms.service.backends import DEFAULT_STORE, Backends, KeyStore
from openkms.service.keys import CreateKeyRequest, KeyService
from openkms.service.reconcile import Reconciler
from openkms.storage.factory import open_store
from openkms.storage.sql import SqlStore
from openkms.system import ManualClock, UuidGenerator
from tests.hsm_support import extra_token, requires_softhsm
from tests.unit.service.conftest import CALLER, RESOLVER, T0

pytestmark = requires_softhsm
PIN = "reconcile-user-pin-1701"


@dataclass
class Rig:
    store: SqlStore
    clock: ManualClock
    backend: hsm.Pkcs11Backend
    keys: KeyService
    reconciler: Reconciler


@contextmanager
def rig(tmp_path: Path, label: str, *extra: KeyStore) -> Iterator[Rig]:
    store = open_store(None, tmp_path / "openkms.sqlite3")
    clock = ManualClock(T0)
    software = SoftwareBackend(AesGcmSealer(bytes(range(32))), pool_size=0)
    backend = hsm.Pkcs11Backend(extra_token(label, PIN), store_id="kst-rec")
    backends = Backends(
        [
            KeyStore(DEFAULT_STORE, ProtectionLevel.SOFTWARE, software),
            KeyStore("kst-rec", ProtectionLevel.HSM, backend, inventory=backend),
            *extra,
        ]
    )
    keys = KeyService(
        store, RESOLVER, backends, clock, UuidGenerator(), RegionCatalogue(DEFAULT_REGIONS, DEFAULT_REGION)
    )
    try:
        yield Rig(store, clock, backend, keys, Reconciler(store, backends, clock))
    finally:
        backend.close()
        software.close()
        store.dispose()


@pytest.fixture
def r(tmp_path: Path) -> Iterator[Rig]:
    """A token of the test's own: another test's leftovers would be this one's orphans."""
    with rig(tmp_path, "openkms-rec-" + uuid.uuid4().hex[:8]) as made:
        yield made


def foreign_objects(backend: hsm.Pkcs11Backend) -> None:
    """Objects openkms must never report: another application's key, and one named like the root key."""
    import pkcs11

    a = pkcs11.Attribute
    with backend._tokens.session() as s:
        for name in (b"someone-else", b"openkms:root-key"):
            template = {a.TOKEN: True, a.ID: name, a.LABEL: name.decode(), a.SENSITIVE: True, a.EXTRACTABLE: False}
            s.session.generate_key(pkcs11.KeyType.AES, 256, store=True, template=template)


def count(backend: hsm.Pkcs11Backend, object_id: bytes) -> int:
    import pkcs11

    with backend._tokens.session() as s:
        return len(list(s.session.get_objects({pkcs11.Attribute.ID: object_id})))


def labels(objects: Any) -> set[str]:
    return {o.label for o in objects}


def hsm_key(keys: KeyService, spec: str = "Aliyun_AES_256", usage: KeyUsage | None = None) -> Any:
    request = CreateKeyRequest(spec=spec, usage=usage, protection_level=ProtectionLevel.HSM, key_store_id="kst-rec")
    return keys.create_key(CALLER, request)


def test_orphans_are_reported_and_destroyed_only_after_the_grace_period(r: Rig) -> None:
    aes = hsm_key(r.keys)
    ec = hsm_key(r.keys, "EC_P256", KeyUsage.SIGN_VERIFY)
    kept = {"openkms:" + aes.primary_version_id, "openkms:" + ec.primary_version_id}
    # Orphans made straight in the token, as a process killed before its commit leaves them.
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    ref_a = r.backend.create_symmetric(SPECS["Aliyun_AES_256"], a)
    r.backend.create_asymmetric(SPECS["EC_P256"], b)
    r.backend.create_wrapping_key("RSA_2048", "RSAES_OAEP_SHA_1", c)
    foreign_objects(r.backend)

    first = r.reconciler.look()
    [report] = first.stores
    assert report.store_id == "kst-rec"
    assert labels(report.orphans) == {f"openkms:{a}", f"openkms:{b}", f"openkms:import:{c}"}
    assert report.objects == 5  # one per name: a key pair's halves share theirs; foreign objects left out
    assert f"openkms:{a}" in report.summary()

    d = str(uuid.uuid4())
    waited: list[float] = []

    def meanwhile(seconds: float) -> None:
        """During the grace period: the CreateKey that made ``a`` commits its row, and another
        request makes ``d`` (an orphan for less than the grace period at the second look)."""
        waited.append(seconds)
        key = replace(aes, id=str(uuid.uuid4()), primary_version_id=a)
        with r.store.write() as uow:
            uow.keys.add(key)
            uow.versions.add(KeyVersion(a, key.id, int(r.clock.now()), ref_a))
        r.backend.create_symmetric(SPECS["Aliyun_AES_256"], d)
        r.clock.advance(seconds)

    result = r.reconciler.destroy_orphans(120, meanwhile)
    assert waited == [120]
    [report] = result.stores
    assert labels(report.destroyed) == {f"openkms:{b}", f"openkms:import:{c}"}
    assert labels(report.orphans) == {f"openkms:{d}"}
    assert (count(r.backend, f"openkms:{b}".encode()), count(r.backend, f"openkms:import:{c}".encode())) == (0, 0)
    for name in (*kept, f"openkms:{a}", f"openkms:{d}", "someone-else", "openkms:root-key"):
        assert count(r.backend, name.encode()) >= 1, name
    # The keys still work.
    version = KeyVersion(aes.primary_version_id, aes.id, 0, b"pkcs11:v1:openkms:" + aes.primary_version_id.encode())
    sealed = r.backend.encrypt(aes.spec_info, version, b"", b"ok")
    assert r.backend.decrypt(aes.spec_info, version, b"", *sealed) == b"ok"
    assert labels(r.reconciler.look().stores[0].orphans) == {f"openkms:{d}"}


def test_without_orphans_nothing_waits(r: Rig) -> None:
    hsm_key(r.keys)

    def never(_: float) -> None:
        raise AssertionError("no orphan: no second look")

    result = r.reconciler.destroy_orphans(120, never)
    assert result.stores[0].orphans == ()
    assert result.stores[0].summary() == "key store kst-rec: 1 token objects, no orphans"


def test_an_unreachable_store_is_reported_and_the_others_checked(tmp_path: Path) -> None:
    broken_config = replace(extra_token("openkms-reconcile-broken", PIN), pin="wrong-pin-3141")
    broken = LazyBackend("kst-down", lambda: hsm.Pkcs11Backend(broken_config), ManualClock(T0))
    extra = KeyStore("kst-down", ProtectionLevel.HSM, broken, inventory=broken)
    with rig(tmp_path, "openkms-rec-" + uuid.uuid4().hex[:8], extra) as r:
        hsm_key(r.keys)
        r.backend.create_symmetric(SPECS["Aliyun_AES_256"], str(uuid.uuid4()))
        result = r.reconciler.look()
        assert not result.complete
        down, rec = result.stores
        assert down.store_id == "kst-down"
        assert "unreachable" in down.failure
        assert "wrong-pin-3141" not in down.summary()
        assert (rec.objects, len(rec.orphans)) == (2, 1)
