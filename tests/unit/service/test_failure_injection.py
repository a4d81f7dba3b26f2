"""Storage failures injected into real use cases: a failed write leaves nothing half-written
(the idea of Vault's Test_StorageErrorSafety). The store is the real SqliteStore, wrapped so that
one repository call inside a write transaction raises BackendUnavailable."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import text

from openkms.domain import errors
from openkms.domain.rotation import DAY
from openkms.domain.tags import Tag
from openkms.service.keys import CreateKeyRequest
from openkms.storage.sql import SqlStore
from tests.unit.service.conftest import CALLER, World


class _FailingRepo:
    def __init__(self, inner: Any, name: str, fail_on: set[str], calls: list[str]) -> None:
        self._inner, self._name, self._fail_on, self._calls = inner, name, fail_on, calls

    def __getattr__(self, method: str) -> Any:
        target = getattr(self._inner, method)
        qualified = f"{self._name}.{method}"

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append(qualified)
            if qualified in self._fail_on:
                raise errors.BackendUnavailable("injected")
            return target(*args, **kwargs)

        return call


class _FailingUow:
    def __init__(self, inner: Any, fail_on: set[str], calls: list[str]) -> None:
        self._inner, self._fail_on, self._calls = inner, fail_on, calls

    def __getattr__(self, repo: str) -> Any:
        return _FailingRepo(getattr(self._inner, repo), repo, self._fail_on, self._calls)


class FailingStore:
    """The real store; inside write() the named repository calls (``"versions.add"``) raise."""

    def __init__(self, inner: SqlStore, *fail_on: str) -> None:
        self.inner = inner
        self.fail_on = set(fail_on)
        self.calls: list[str] = []

    def read(self) -> Any:
        return self.inner.read()

    @contextmanager
    def write(self) -> Iterator[Any]:
        with self.inner.write() as uow:
            yield _FailingUow(uow, self.fail_on, self.calls)


def _rows(store: SqlStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            table: int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
            for table in ("keys", "key_versions", "aliases", "tags")
        }


EMPTY = {"keys": 0, "key_versions": 0, "aliases": 0, "tags": 0}
FULL_REQUEST = CreateKeyRequest(tags=[Tag("env", "test")], alias="alias/failure-injection")


@pytest.mark.parametrize("fail_on", ["versions.add", "tags.replace", "aliases.add"])
def test_create_key_failing_midway_leaves_no_rows(world: World, fail_on: str) -> None:
    failing = FailingStore(world.store, fail_on)
    with pytest.raises(errors.BackendUnavailable, match="injected"):
        world.keys(failing).create_key(CALLER, FULL_REQUEST)
    assert "keys.add" in failing.calls, "the failure came after the key row was written"
    assert failing.calls.index("keys.add") < failing.calls.index(fail_on)
    assert _rows(world.store) == EMPTY
    # The same request succeeds once the store works again: nothing half-written stands in its way.
    key = world.keys().create_key(CALLER, FULL_REQUEST)
    assert _rows(world.store) == {"keys": 1, "key_versions": 1, "aliases": 1, "tags": 1}
    assert key.primary_version_id is not None


def test_create_key_with_a_working_store_writes_every_row(world: World) -> None:
    failing = FailingStore(world.store)  # injects nothing
    world.keys(failing).create_key(CALLER, FULL_REQUEST)
    assert _rows(world.store) == {"keys": 1, "key_versions": 1, "aliases": 1, "tags": 1}
    assert failing.calls[:2] == ["keys.count", "keys.add"]


def test_rotation_failing_midway_leaves_the_key_as_it_was(world: World) -> None:
    key = world.keys().create_key(CALLER, CreateKeyRequest(rotation_enabled=True, rotation_interval=7 * DAY))
    world.clock.advance(7 * DAY)
    failing = FailingStore(world.store, "keys.save")
    with pytest.raises(errors.BackendUnavailable):
        world.versions(failing).rotate(key)
    assert "versions.add" in failing.calls
    assert _rows(world.store)["key_versions"] == 1
    with world.store.read() as uow:
        assert uow.keys.get(CALLER.account_uid, CALLER.region, key.id) == key
    # A later run rotates normally.
    rotated = world.versions().rotate(key)
    assert rotated is not None
    assert _rows(world.store)["key_versions"] == 2
