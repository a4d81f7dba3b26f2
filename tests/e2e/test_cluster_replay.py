"""Two ``openkms serve`` nodes (two workers each) on one PostgreSQL database: a request accepted by
any worker of one node is refused as a replay by every worker of the other, also after the node
that accepted it was killed with SIGKILL, and by that node once it is back."""

from __future__ import annotations

from pathlib import Path

from tests.e2e import raw
from tests.e2e.cluster import ADMIN_ID, ADMIN_SECRET, cluster_env, kill_node, needs_postgres
from tests.servers import process_server

pytestmark = needs_postgres

REPLAYED = (400, "SignatureNonceUsed", "Specified signature nonce was used already.")
REQUESTS = 24  # on fresh connections: both workers of a node take some


def _refusal(answer: tuple[int, dict[str, str]]) -> tuple[int, str, str]:
    status, body = answer
    return status, body.get("Code", ""), body.get("Message", "")


def test_a_request_accepted_on_one_node_is_refused_on_every_other(tmp_path: Path) -> None:
    bodies = [raw.signed_body(ADMIN_ID, ADMIN_SECRET, "DescribeRegions") for _ in range(REQUESTS)]
    with cluster_env() as env, process_server(tmp_path / "node-b", env=env, workers=2) as node_b:
        with process_server(tmp_path / "node-a", env=env, workers=2) as node_a:
            for body in bodies:
                status, answer = raw.call_body(node_a, body)
                assert status == 200, answer
            assert [_refusal(raw.call_body(node_b, body)) for body in bodies] == [REPLAYED] * REQUESTS
            kill_node(node_a)
        # The node that accepted them is gone: the claims are in the database, not in it.
        assert [_refusal(raw.call_body(node_b, body)) for body in bodies] == [REPLAYED] * REQUESTS
        with process_server(tmp_path / "node-a", env=env, workers=2) as node_a:
            assert [_refusal(raw.call_body(node_a, body)) for body in bodies] == [REPLAYED] * REQUESTS
            fresh = raw.signed_body(ADMIN_ID, ADMIN_SECRET, "DescribeRegions")
            assert raw.call_body(node_a, fresh)[0] == 200
            assert _refusal(raw.call_body(node_b, fresh)) == REPLAYED
