"""The Store port's two methods for the test control API: a node value that changes, and erase
(its reset), on every adapter."""

from __future__ import annotations

import pytest

from openkms.domain import errors
from openkms.domain.aliases import Alias
from openkms.domain.identity import AccessKey, AccessKeyStatus, Account
from openkms.domain.ports import UnitOfWork
from openkms.domain.tags import Tag
from openkms.storage.sql import SqlStore
from tests.contract.test_store_contract import (
    OTHER_REGION,
    OTHER_UID,
    REGION,
    T0,
    UID,
    add_keys,
    kid,
    make_key,
    make_version,
)


def test_a_changing_node_value_is_replaced(store: SqlStore) -> None:
    store.set_node_value("test-clock-offset", b"1.5")
    store.set_node_value("test-clock-offset", b"-3600.0")
    assert store.node_value("test-clock-offset") == b"-3600.0"
    assert store.put_node_value_if_absent("test-clock-offset", b"other") == b"-3600.0"


def test_erase_keeps_only_the_administrators_own_pairs(store: SqlStore) -> None:
    own = AccessKey("LTAI0000000000000000001", UID, b"\x01s", AccessKeyStatus.ENABLED, T0, "administrator")
    users = AccessKey("LTAI0000000000000000002", UID, b"\x01s", AccessKeyStatus.ENABLED, T0, "", "ops")
    other = AccessKey("LTAI0000000000000000003", OTHER_UID, b"\x01s", AccessKeyStatus.ENABLED, T0)
    with store.write() as uow:
        uow.accounts.add(Account(UID, T0))
        uow.accounts.add(Account(OTHER_UID, T0))
        for ak in (own, users, other):
            uow.access_keys.add(ak)
    add_keys(store, make_key(1), make_key(2, account_uid=OTHER_UID))
    with store.write() as uow:
        uow.versions.add(make_version(1, 1))
    store.put_node_value_if_absent("administrator-account", UID.encode())

    store.erase(UID)

    with store.read() as uow:
        assert uow.accounts.list_all() == [Account(UID, T0)]
        assert uow.access_keys.list_all() == [own]
        assert uow.keys.get(UID, REGION, make_key(1).id) is None
        assert uow.keys.get(OTHER_UID, REGION, make_key(2).id) is None
    assert store.node_value("administrator-account") == UID.encode()


def test_erase_writes_what_follows_in_its_own_transaction(store: SqlStore) -> None:
    """A reset to a seed: the seed's rows in bulk (one statement a table), in the erase's
    transaction; a failure among them leaves the data as it was before the erase."""
    with store.write() as uow:
        uow.accounts.add(Account(UID, T0))
    add_keys(store, make_key(1))
    seeded = [make_key(2), make_key(3, region=OTHER_REGION)]

    def load(uow: UnitOfWork) -> None:
        uow.keys.add_many(seeded)
        uow.versions.add_many([make_version(2, 2), make_version(3, 3)])
        uow.aliases.add_many(
            [Alias("alias/two", kid(2), UID, REGION, T0), Alias("alias/x", kid(3), UID, OTHER_REGION, T0)]
        )
        uow.tags.add_many({kid(2): [Tag("b", "2"), Tag("a", "1")], kid(3): []})

    store.erase(UID, load)
    with store.read() as uow:
        assert uow.keys.list_in_region(UID, REGION) == [seeded[0]]
        assert uow.keys.list_in_region(UID, OTHER_REGION) == [seeded[1]]
        assert uow.versions.list_for_key(kid(3)) == [make_version(3, 3)]
        assert [a.name for a in uow.aliases.list_for_key(kid(2))] == ["alias/two"]
        assert uow.tags.for_key(kid(2)) == [Tag("a", "1"), Tag("b", "2")]

    def half(uow: UnitOfWork) -> None:
        uow.keys.add_many([make_key(4)])
        uow.versions.add_many([make_version(5, 5)])  # its key does not exist: refused

    with pytest.raises(errors.BackendUnavailable):
        store.erase(UID, half)
    with store.read() as uow:
        assert [k.id for k in uow.keys.list_in_region(UID, REGION)] == [kid(2)]  # nothing erased, nothing added


def test_many_of_nothing_is_nothing(store: SqlStore) -> None:
    with store.write() as uow:
        uow.keys.add_many([])
        uow.versions.add_many([])
        uow.aliases.add_many([])
        uow.tags.add_many({})
    with store.read() as uow:
        assert uow.keys.list_in_region(UID, REGION) == []
