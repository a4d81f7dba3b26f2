"""The scheduler's lease, the fencing epoch its holder's writes check, and the nodes' heartbeats
(storage/leases.py, storage/sql/fence.py), on both stores. A lease running out is made by moving
its row's end into the past, as the database's clock passing it would leave it: no test waits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from openkms.domain import errors
from openkms.domain.identity import Account
from openkms.storage.leases import SqlLeases, node_id
from openkms.storage.sql import SqlStore
from tests.stores import ADAPTERS, open_adapter

LEASE = 15.0


@pytest.fixture(params=ADAPTERS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with open_adapter(request.param, tmp_path) as store:
        yield store


def _run_out(store: SqlStore, lease: str = "scheduler") -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE leases SET valid_until = valid_until - 1000 WHERE name = :n"), {"n": lease})


def _forget_nodes_heard_before_now(store: SqlStore, node: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE cluster_nodes SET seen_at = seen_at - 1000 WHERE node_id = :n"), {"n": node})


def _accounts(store: SqlStore) -> list[str]:
    with store.read() as uow:
        return [uid for uid in ("acct-a", "acct-b") if uow.accounts.get(uid) is not None]


def test_one_holder_at_a_time_and_the_holder_renews_at_its_epoch(store: SqlStore) -> None:
    a = SqlLeases(store.engine, "node-a", LEASE)
    b = SqlLeases(store.engine, "node-b", LEASE)
    first = a.renew()
    assert first is not None
    assert (first.epoch, first.holder) == (1, a.holder)
    assert b.renew() is None
    assert a.renew() == first  # renewed, same epoch
    assert b.renew() is None


def test_a_lease_run_out_is_taken_at_the_next_epoch(store: SqlStore) -> None:
    a = SqlLeases(store.engine, "node-a", LEASE)
    b = SqlLeases(store.engine, "node-b", LEASE)
    assert a.renew() is not None
    _run_out(store)
    taken = b.renew()
    assert taken is not None
    assert (taken.holder, taken.epoch) == (b.holder, 2)
    assert a.renew() is None  # the former holder finds it taken


def test_a_clean_stop_hands_the_lease_over_at_once(store: SqlStore) -> None:
    a = SqlLeases(store.engine, "node-a", LEASE)
    b = SqlLeases(store.engine, "node-b", LEASE)
    assert a.renew() is not None
    assert b.renew() is None
    a.release()
    taken = b.renew()
    assert taken is not None
    assert taken.epoch == 2


def test_writes_under_the_holders_fence_go_through(store: SqlStore) -> None:
    a = SqlLeases(store.engine, "node-a", LEASE)
    fence = a.renew()
    assert fence is not None
    with store.fenced(fence), store.write() as uow:
        uow.accounts.add(Account("acct-a", 1))
    assert _accounts(store) == ["acct-a"]


def test_a_paused_former_holder_cannot_write_after_another_took_the_lease(store: SqlStore) -> None:
    a = SqlLeases(store.engine, "node-a", LEASE)
    b = SqlLeases(store.engine, "node-b", LEASE)
    stale = a.renew()
    assert stale is not None
    _run_out(store)  # a was paused past its lease
    current = b.renew()
    assert current is not None
    with pytest.raises(errors.LeaseLost) as err, store.fenced(stale), store.write() as uow:
        uow.accounts.add(Account("acct-a", 1))
    assert err.value.message == "Service Unavailable Temporary. This process no longer leads the background jobs."
    with store.fenced(current), store.write() as uow:
        uow.accounts.add(Account("acct-b", 1))
    assert _accounts(store) == ["acct-b"]  # nothing of the former holder's write


def test_a_lease_run_out_fences_its_holder_even_before_another_takes_it(store: SqlStore) -> None:
    a = SqlLeases(store.engine, "node-a", LEASE)
    fence = a.renew()
    assert fence is not None
    _run_out(store)
    with pytest.raises(errors.LeaseLost), store.fenced(fence), store.write() as uow:
        uow.accounts.add(Account("acct-a", 1))
    assert _accounts(store) == []
    renewed = a.renew()  # it took the lease again: at a new epoch, the old fence stays dead
    assert renewed is not None
    assert renewed.epoch == 2


def test_writes_outside_a_fence_are_not_checked(store: SqlStore) -> None:
    """Requests write without a lease; only the scheduler's run is fenced."""
    with store.write() as uow:
        uow.accounts.add(Account("acct-a", 1))
    assert _accounts(store) == ["acct-a"]


def test_live_nodes_counts_the_nodes_heard_within_a_lease(store: SqlStore) -> None:
    a = SqlLeases(store.engine, "node-a", LEASE)
    a_second_worker = SqlLeases(store.engine, "node-a", LEASE)
    b = SqlLeases(store.engine, "node-b", LEASE)
    assert a.live_nodes() == 1  # before any renewal: this node
    a.renew()
    a_second_worker.renew()
    assert a_second_worker.live_nodes() == 1  # two workers, one node
    b.renew()
    assert b.live_nodes() == 2
    _forget_nodes_heard_before_now(store, "node-a")  # node-a's workers died a lease ago
    b.renew()
    assert b.live_nodes() == 1


def test_an_unreachable_database_is_backend_unavailable(tmp_path: Path) -> None:
    with open_adapter("sqlite", tmp_path) as store:
        leases = SqlLeases(store.engine, "node-a", LEASE)
        with store.engine.begin() as conn:
            conn.execute(text("DROP TABLE leases"))
        with pytest.raises(errors.BackendUnavailable):
            leases.renew()


def test_a_node_leads_while_one_of_its_processes_holds_the_lease(store: SqlStore) -> None:
    a, a_second_worker = SqlLeases(store.engine, "node-a", LEASE), SqlLeases(store.engine, "node-a", LEASE)
    b = SqlLeases(store.engine, "node-b", LEASE)
    assert not a.is_leader()  # before any renewal
    assert a.renew() is not None
    assert a_second_worker.renew() is None  # not the holder, but its node leads
    b.renew()
    assert (a.is_leader(), a_second_worker.is_leader(), b.is_leader()) == (True, True, False)
    _run_out(store)
    assert b.renew() is not None
    a_second_worker.renew()
    assert (a_second_worker.is_leader(), b.is_leader()) == (False, True)


def test_a_node_is_named_once_in_its_data_directory(tmp_path: Path) -> None:
    first = node_id(tmp_path)
    assert len(first) == 16
    assert node_id(tmp_path) == first  # a restart, or another worker: the same node
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node-id"]  # nothing left beside it
