"""The audit trail of a real ``openkms serve --workers 2``: each worker writes a chain of its own
while both serve requests at once, every request of both is in the trail, and after the server
stops ``openkms audit verify`` passes every chain; fail-closed is the default of a production
configuration."""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path

from openkms.audit import files
from tests.audit_support import events
from tests.e2e import raw
from tests.e2e.signed import Signer
from tests.servers import inprocess_server, process_server, run_openkms


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
    # In process: a production node serves HTTPS only, and this is about the trail, not TLS.
    with inprocess_server(tmp_path / "data", production=True) as srv:
        signer = Signer.for_new_account(srv)
        assert signer.v1("DescribeRegions").send().status_code == 200
        assert srv.runtime.audit.config.fail_closed  # type: ignore[attr-defined]
        reserves = list((tmp_path / "data" / "audit").glob("*/.reserve"))
        assert len(reserves) == 1  # only a fail-closed trail keeps a reserve


def _source_recorded(data: Path, srv_args: tuple[str, ...]) -> str:
    data.parent.mkdir(parents=True)
    with process_server(data, *srv_args) as srv:
        admin = srv.admin()
        body = raw.signed_body(admin["AccessKeyId"], admin["AccessKeySecret"], "DescribeRegions")
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("POST", "/", body, {"Content-Type": "application/x-www-form-urlencoded",
                                          "X-Forwarded-For": "203.0.113.9"})  # fmt: skip
        answer = conn.getresponse()
        request_id = json.loads(answer.read())["RequestId"]
        conn.close()
    (event,) = [e for e in events(data / "audit") if e["requestId"] == request_id]
    return str(event["sourceIpAddress"])


def test_forwarded_headers_are_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    assert _source_recorded(tmp_path / "a" / "data", ()) == "127.0.0.1"  # any local process could forge it
    config = tmp_path / "openkms.toml"
    config.write_text('[server]\ntrusted_proxies = "127.0.0.1"\n')
    assert _source_recorded(tmp_path / "b" / "data", ("--config", str(config))) == "203.0.113.9"
