"""The audit trail of a real ``openkms serve --workers 2``: each worker writes a chain of its own
while both serve requests at once, every request of both is in the trail, and after the server
stops ``openkms audit verify`` passes every chain; fail-closed is the default of a production
configuration."""

from __future__ import annotations

import http.client
import threading
from pathlib import Path

from openkms.audit import files
from tests.audit_support import events
from tests.e2e import raw
from tests.servers import process_server, run_openkms


def test_two_workers_write_two_chains_that_verify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    answered: list[str] = []
    with process_server(data, workers=2) as srv:
        admin = srv.admin()
        ak, secret = admin["AccessKeyId"], admin["AccessKeySecret"]
        held = raw.connections_by_worker(srv, 2)

        def drive(conn: http.client.HTTPConnection) -> None:
            for _ in range(25):
                status, body = raw.post(conn, raw.signed_body(ak, secret, "DescribeRegions"))
                assert status == 200, body
                answered.append(body["RequestId"])

        threads = [threading.Thread(target=drive, args=(c,)) for cs in held.values() for c in cs]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        finally:
            raw.close_all(held)
    assert len(answered) == 100
    chains = files.chains(data / "audit")
    assert len(chains) == 2
    recorded = {e["requestId"] for e in events(data / "audit")}
    assert set(answered) <= recorded
    done = run_openkms("audit", "verify", "--data-dir", str(data))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_production_fails_closed_by_default(tmp_path: Path) -> None:
    config = tmp_path / "openkms.toml"
    config.write_text("[server]\nproduction = true\n")
    with process_server(tmp_path / "data", "--config", str(config)) as srv:
        admin = srv.admin()
        status, body = raw.call(srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"], "DescribeRegions")
        assert status == 200, body
        reserves = list((tmp_path / "data" / "audit").glob("*/.reserve"))
        assert len(reserves) == 1  # only a fail-closed trail keeps a reserve
