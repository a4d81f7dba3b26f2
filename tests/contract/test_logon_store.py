"""The console's sessions and failed log-on counts in the store (every adapter, as the Store
contract): what every worker and node must agree on."""

from __future__ import annotations

from dataclasses import replace

from openkms.domain.logon import ConsoleSession, LogOnFailures, digest
from openkms.domain.ports import Store

T0 = 1_700_000_000


def make_session(sid: str, **overrides: object) -> ConsoleSession:
    values: dict[str, object] = {
        "id_hash": digest(sid),
        "access_key_id": "LTAI" + "a" * 20,
        "account_uid": "1000000000000001",
        "user_name": "alice",
        "secret_fingerprint": "fp",
        "created_at": T0,
        "expires_at": T0 + 3600,
    }
    values.update(overrides)
    return ConsoleSession(**values)  # type: ignore[arg-type]


def test_a_session_round_trips_is_revoked_deleted_and_purged(store: Store) -> None:
    first, second = make_session("one"), make_session("two", user_name="", expires_at=T0 + 10)
    with store.write() as uow:
        uow.console_sessions.add(first)
        uow.console_sessions.add(second)
    with store.read() as uow:
        assert uow.console_sessions.get(digest("one")) == first
        assert uow.console_sessions.get(digest("two")) == second
        assert uow.console_sessions.get(digest("three")) is None
    with store.write() as uow:
        uow.console_sessions.revoke(digest("one"))
    with store.read() as uow:
        assert uow.console_sessions.get(digest("one")) == replace(first, revoked=True)
    with store.write() as uow:
        uow.console_sessions.purge(T0 + 10)  # the second has expired
    with store.read() as uow:
        assert uow.console_sessions.get(digest("two")) is None
        assert uow.console_sessions.get(digest("one")) is not None
    with store.write() as uow:
        uow.console_sessions.delete(digest("one"))
    with store.read() as uow:
        assert uow.console_sessions.get(digest("one")) is None


def test_failure_counts_are_put_replaced_cleared_and_purged(store: Store) -> None:
    ip, ak = LogOnFailures("ip:192.0.2.1", 1, T0, 0), LogOnFailures("ak:" + digest("x"), 5, T0, T0 + 60)
    with store.write() as uow:
        assert uow.logon_failures.get(ip.subject) is None
        uow.logon_failures.put(ip)
        uow.logon_failures.put(ak)
    with store.write() as uow:
        uow.logon_failures.put(replace(ip, failures=2))
    with store.read() as uow:
        assert uow.logon_failures.get(ip.subject) == replace(ip, failures=2)
        assert uow.logon_failures.get(ak.subject) == ak
    with store.write() as uow:
        uow.logon_failures.purge(T0 + 30)  # the address's count is older; the id is still refused
    with store.read() as uow:
        assert uow.logon_failures.get(ip.subject) is None
        assert uow.logon_failures.get(ak.subject) == ak
    with store.write() as uow:
        uow.logon_failures.clear(ak.subject)
    with store.read() as uow:
        assert uow.logon_failures.get(ak.subject) is None
