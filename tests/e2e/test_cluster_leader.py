"""One scheduler leader among two ``openkms serve`` nodes (two workers each) on one PostgreSQL
database: one process holds the lease; killed with SIGKILL, its node is replaced by the other
within the configured lease (2 seconds here) and a third, at the next epoch; both nodes beat."""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.cluster import cluster_env, kill_node, needs_postgres, query
from tests.servers import ProcessServer, process_server

pytestmark = needs_postgres

LEASE_SECONDS = 2.0
# A dead holder's lease runs out within LEASE_SECONDS; the others try every third of it. The rest
# is room for a loaded machine; the figure the issue asks for is 30 seconds.
TAKEOVER_BOUND = LEASE_SECONDS * 4 / 3 + 5


def _node_id(node: ProcessServer) -> str:
    return (node.data_dir / "node-id").read_text().strip()


def _holder(env: dict[str, str]) -> tuple[str, int]:
    """(the holding node, the epoch); the lease is current by the database's clock."""
    rows = query(env, "SELECT holder, epoch FROM leases WHERE name = 'scheduler'")
    return (rows[0][0].split("/")[0], rows[0][1]) if rows else ("", 0)


def _wait_for(env: dict[str, str], held_by: str, bound: float) -> tuple[float, int]:
    """Seconds until ``held_by`` holds the lease (polling the database: a state change, not a timer)."""
    start = time.monotonic()
    while time.monotonic() - start < bound:
        node, epoch = _holder(env)
        if node == held_by:
            return time.monotonic() - start, epoch
        time.sleep(0.1)
    raise AssertionError(f"{held_by} did not take the lease within {bound:.1f} s: {_holder(env)}")


def test_a_killed_leader_is_replaced_within_the_lease(tmp_path: Path) -> None:
    with (
        cluster_env(OPENKMS_SCHEDULER_LEASE_SECONDS=str(LEASE_SECONDS)) as env,
        process_server(tmp_path / "node-a", env=env, workers=2) as node_a,
        process_server(tmp_path / "node-b", env=env, workers=2) as node_b,
    ):
        nodes = {_node_id(node_a): node_a, _node_id(node_b): node_b}
        leader_id, epoch = _holder(env)
        assert leader_id in nodes, leader_id
        assert sorted(row[0] for row in query(env, "SELECT node_id FROM cluster_nodes")) == sorted(nodes)
        leading = [n.stderr().count("leads the background jobs") for n in (node_a, node_b)]
        assert sum(leading) == 1, leading  # one process of four took it, and no other since

        survivor_id = next(n for n in nodes if n != leader_id)
        kill_node(nodes[leader_id])
        took, new_epoch = _wait_for(env, survivor_id, TAKEOVER_BOUND)
        assert new_epoch == epoch + 1
        assert "leads the background jobs" in nodes[survivor_id].stderr()
        print(f"lease {LEASE_SECONDS} s: the survivor took over {took:.2f} s after the kill")
