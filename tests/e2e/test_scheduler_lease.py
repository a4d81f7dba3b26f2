"""Who runs the background jobs on one node: ``openkms serve`` takes the scheduler's lease (see
test_serve_workers and test_cluster_leader); an app built without a scheduler (the in-process
servers the tests and the test kit run, whose jobs run when their clock is moved) takes none."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.servers import inprocess_server


def test_an_app_without_a_scheduler_takes_no_lease_and_beats_no_heart(tmp_path: Path) -> None:
    with inprocess_server(tmp_path / "data") as srv:
        for _ in range(3):  # served: the lifespan has long started
            assert httpx.get(f"{srv.base_url}/healthz").status_code == 200
        with sqlite3.connect(tmp_path / "data" / "openkms.sqlite3") as conn:
            assert conn.execute("SELECT count(*) FROM leases").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM cluster_nodes").fetchone() == (0,)
        assert srv.runtime.leases.live_nodes() == 1
