"""Two ``openkms serve`` nodes (two workers each) on one PostgreSQL database: a request accepted by
any worker of one node is refused as a replay by every worker of the other, also after the node
that accepted it was killed with SIGKILL, and by that node once it is back."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from openkms.crypto.sealing import encode_root_key, new_root_key
from tests.e2e import raw
from tests.servers import ProcessServer, process_server
from tests.stores import POSTGRES_ENV, POSTGRES_URL, database_url

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason=f"{POSTGRES_ENV} is not set: no PostgreSQL server to test")

ADMIN_ID = "LTAIclusterreplay0001"
ADMIN_SECRET = "cluster-replay-secret-0123456789"
REPLAYED = (400, "SignatureNonceUsed", "Specified signature nonce was used already.")
REQUESTS = 24  # on fresh connections: both workers of a node take some


@contextmanager
def cluster_env() -> Iterator[dict[str, str]]:
    with database_url("postgres") as url:
        assert url is not None
        yield {
            "OPENKMS_DATABASE_URL": url,
            "OPENKMS_ROOT_KEY": encode_root_key(new_root_key()),
            "OPENKMS_ADMIN_ACCESS_KEY_ID": ADMIN_ID,
            "OPENKMS_ADMIN_ACCESS_KEY_SECRET": ADMIN_SECRET,
            "OPENKMS_RSA_POOL_SIZE": "0",
        }


def kill_node(node: ProcessServer) -> None:
    """SIGKILL to the supervisor and to each worker: nothing of the node closes anything."""
    workers = node.worker_pids()
    assert len(workers) == 2
    node.proc.send_signal(signal.SIGKILL)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    node.proc.wait(10)


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
