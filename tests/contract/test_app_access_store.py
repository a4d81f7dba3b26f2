"""The application access repository on every store adapter (SQLite, PostgreSQL): access points,
policies and network rules by name in a scope, client keys by id and by access point."""

from __future__ import annotations

from dataclasses import replace

from openkms.domain.app_access import KEY_USER, AccessPoint, AppPolicy, ClientKey, NetworkRule
from openkms.domain.ports import Store


def test_named_objects_round_trip_in_their_scope(store: Store) -> None:
    rule = NetworkRule("1", "cn-hangzhou", "net", "d", "Private", ("10.0.0.0/8", "192.168.1.7/32"), 5)
    policy = AppPolicy("1", "cn-hangzhou", "use", "", "kst-a", (KEY_USER,), ("key/*", "secret/db"), ("net",), 6)
    point = AccessPoint("1", "cn-hangzhou", "app", "", "ClientKey", ("use",), 7)
    with store.write() as uow:
        for item in (rule, policy, point):
            uow.app_access.add(item)
        uow.app_access.add(replace(rule, region="cn-shanghai", source_private_ip=()))
    with store.read() as uow:
        assert uow.app_access.get(NetworkRule, "1", "cn-hangzhou", "net") == rule
        assert uow.app_access.get(AppPolicy, "1", "cn-hangzhou", "use") == policy
        assert uow.app_access.get(AccessPoint, "1", "cn-hangzhou", "app") == point
        assert uow.app_access.get(AccessPoint, "2", "cn-hangzhou", "app") is None
        assert uow.app_access.get(AppPolicy, "1", "cn-hangzhou", "net") is None  # kinds are apart
        assert uow.app_access.list_all(NetworkRule, "1", "cn-hangzhou") == [rule]
    changed = replace(policy, resources=("key/k-1",), network_rules=())
    with store.write() as uow:
        uow.app_access.save(changed)
        uow.app_access.delete(point)
    with store.read() as uow:
        assert uow.app_access.get(AppPolicy, "1", "cn-hangzhou", "use") == changed
        assert uow.app_access.list_all(AccessPoint, "1", "cn-hangzhou") == []


def test_client_keys_by_id_and_by_access_point(store: Store) -> None:
    first = ClientKey("KAAP.1", "1", "cn-hangzhou", "app", b"\x30\x82public", "RSA_2048", 10, 20, 10)
    second = replace(first, id="KAAP.2", created_at=11)
    other = replace(first, id="KAAP.3", aap_name="other")
    with store.write() as uow:
        for key in (second, first, other):
            uow.app_access.add_client_key(key)
    with store.read() as uow:
        assert uow.app_access.client_key("KAAP.1") == first
        assert uow.app_access.client_keys("1", "cn-hangzhou", "app") == [first, second]
    with store.write() as uow:
        uow.app_access.delete_client_key(first)
    with store.read() as uow:
        assert uow.app_access.client_key("KAAP.1") is None
        assert uow.app_access.client_keys("1", "cn-hangzhou", "app") == [second]
