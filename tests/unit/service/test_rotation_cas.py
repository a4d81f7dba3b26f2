"""Automatic rotation is compare-and-set: however many workers find the same due key, exactly
one new version is made."""

from __future__ import annotations

import threading

from openkms.audit.trail import NoTrail
from openkms.crypto.sealing import AesGcmSealer
from openkms.domain.keys import Key
from openkms.domain.rotation import DAY
from openkms.service.audit import AuditRecorder
from openkms.service.importing import ImportService
from openkms.service.keys import CreateKeyRequest
from openkms.service.scheduler import Scheduler
from openkms.system import UuidGenerator
from tests.unit.service.conftest import CALLER, RESOLVER, World


def _due_key(world: World) -> Key:
    key = world.keys().create_key(CALLER, CreateKeyRequest(rotation_enabled=True, rotation_interval=7 * DAY))
    world.clock.advance(7 * DAY)
    with world.store.read() as uow:
        assert [k.id for k in uow.keys.due_for_rotation(int(world.clock.now()))] == [key.id]
    return key


def _versions(world: World, key: Key) -> list[str]:
    with world.store.read() as uow:
        return [v.id for v in uow.versions.list_for_key(key.id)]


def test_two_rotations_of_the_same_due_key_make_one_version(world: World) -> None:
    key = _due_key(world)
    service = world.versions()
    first = service.rotate(key)
    second = service.rotate(key)  # the same stale snapshot, as a second worker would hold
    assert first is not None
    assert second is None
    versions = _versions(world, key)
    assert len(versions) == 2
    assert versions[0] == first.primary_version_id != key.primary_version_id
    with world.store.read() as uow:
        assert uow.keys.get(CALLER.account_uid, CALLER.region, key.id) == first


def test_two_workers_on_separate_connections_make_one_version(world: World) -> None:
    key = _due_key(world)
    other = world.open_second_store()
    try:
        results = [world.versions().rotate(key), world.versions(other).rotate(key)]
    finally:
        other.dispose()
    assert sum(r is not None for r in results) == 1
    assert len(_versions(world, key)) == 2


def test_concurrent_rotations_make_one_version(world: World) -> None:
    key = _due_key(world)
    stores = [world.store] + [world.open_second_store() for _ in range(3)]
    results: list[Key | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(stores))

    def rotate(i: int) -> None:
        service = world.versions(stores[i])
        barrier.wait()
        got = service.rotate(key)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=rotate, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores[1:]:
        s.dispose()
    assert len(results) == len(stores)
    assert sum(r is not None for r in results) == 1
    assert len(_versions(world, key)) == 2


def test_a_key_not_yet_due_is_not_rotated(world: World) -> None:
    key = world.keys().create_key(CALLER, CreateKeyRequest(rotation_enabled=True, rotation_interval=7 * DAY))
    world.clock.advance(7 * DAY - 1)
    assert world.versions().rotate(key) is None
    assert len(_versions(world, key)) == 1


def test_a_key_disabled_meanwhile_is_not_rotated(world: World) -> None:
    key = _due_key(world)
    world.keys().disable_key(CALLER, key.id)
    assert world.versions().rotate(key) is None  # the snapshot says Enabled; the store says Disabled
    assert len(_versions(world, key)) == 1


def test_scheduler_runs_rotate_once_per_interval(world: World) -> None:
    key = _due_key(world)
    versions = world.versions()
    importing = ImportService(
        world.store, RESOLVER, world.backends, AesGcmSealer(bytes(32)), world.clock, UuidGenerator(), world.regions
    )
    off = AuditRecorder(NoTrail(), world.clock, UuidGenerator())
    scheduler = Scheduler(world.store, world.clock, versions, importing, world.backends, off)
    assert scheduler.run_once().rotated == (key.id,)
    assert scheduler.run_once().rotated == ()
    world.clock.advance(7 * DAY)
    assert scheduler.run_once().rotated == (key.id,)
    assert len(_versions(world, key)) == 3
