"""The Store port's two methods for the test control API: a node value that changes, and erase
(its reset), on every adapter."""

from __future__ import annotations

from openkms.domain.identity import AccessKey, AccessKeyStatus, Account
from openkms.storage.sql import SqlStore
from tests.contract.test_store_contract import OTHER_UID, REGION, T0, UID, add_keys, make_key, make_version


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
