"""GET /metrics over HTTP: Prometheus text, from every worker of a node (multi-process mode under
``openkms serve``), behind the access rule of [metrics] access."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from openkms.metrics import prometheus
from tests.e2e.clients import Kms
from tests.servers import inprocess_server, process_server

TOKEN = "e2e-metrics-token-4d1f0c"


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def counted_once_flushed(base_url: str, expected: float) -> str:
    """The scrape once every worker has written its counts: the worker that answers writes its own
    first, another writes its within FLUSH_SECONDS (metrics/prometheus.py), so a scrape right
    after the requests may miss that one's last ones. Asked again until they are there (bounded)."""
    deadline = time.monotonic() + 5
    while True:
        text = httpx.get(f"{base_url}/metrics").text
        ok = samples(text, "openkms_requests_total").get((("action", "DescribeAccountKmsStatus"), ("code", "OK")))
        if ok == expected or time.monotonic() > deadline:
            return text
        time.sleep(prometheus.FLUSH_SECONDS)


def test_metrics_are_served_to_loopback_in_prometheus_text(tmp_path: Path) -> None:
    with inprocess_server(tmp_path / "data") as srv:
        Kms("new-v3", srv.endpoint, srv.access_key_id, srv.secret).call("DescribeAccountKmsStatus")
        resp = httpx.get(f"{srv.base_url}/metrics")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/plain; version=")
        counted = samples(resp.text, "openkms_requests_total")
        assert counted[(("action", "DescribeAccountKmsStatus"), ("code", "OK"))] >= 1
        assert "openkms_request_duration_seconds_bucket" in resp.text
        assert "openkms_in_flight_requests" in resp.text
        assert samples(resp.text, "openkms_leader") == {(): 1.0}


def test_token_access_over_http(tmp_path: Path) -> None:
    with inprocess_server(tmp_path / "data", metrics_access="token", metrics_token=TOKEN) as srv:
        refused = httpx.get(f"{srv.base_url}/metrics")
        assert (refused.status_code, refused.json()["status"]) == (401, "unauthorized")
        wrong = httpx.get(f"{srv.base_url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        served = httpx.get(f"{srv.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert served.status_code == 200
        assert TOKEN not in served.text


def test_audit_write_failures_are_counted(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the audit directory should be")
    with inprocess_server(tmp_path / "data", audit_directory=blocker / "audit", audit_mode="best-effort") as srv:
        before = samples(httpx.get(f"{srv.base_url}/metrics").text, "openkms_audit_write_failures_total")
        kms = Kms("new-v3", srv.endpoint, srv.access_key_id, srv.secret)
        for _ in range(3):
            kms.call("DescribeAccountKmsStatus")  # best-effort: served, its event dropped and counted
        after = samples(httpx.get(f"{srv.base_url}/metrics").text, "openkms_audit_write_failures_total")
        assert after[()] - before.get((), 0.0) >= 3


def test_every_worker_is_counted_and_the_directory_is_emptied_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stale = data / "metrics" / "counter_999999.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"a dead worker's counts from an earlier run")
    with process_server(data, workers=2) as srv:
        assert not stale.exists()
        admin = srv.admin()
        for _ in range(40):  # a new connection each: whichever worker takes it, it is counted once
            kms = Kms("new-v3", srv.endpoint, admin["AccessKeyId"], admin["AccessKeySecret"])
            kms.call("DescribeAccountKmsStatus")
        text = counted_once_flushed(srv.base_url, 40)
        counted = samples(text, "openkms_requests_total")
        assert counted[(("action", "DescribeAccountKmsStatus"), ("code", "OK"))] == 40
        writers = {p.name.rsplit("_", 1)[1] for p in (data / "metrics").glob("counter_*.db")}
        assert len(writers) >= 2, writers  # each worker writes files of its own: multi-process mode
        assert samples(text, "openkms_leader") == {(): 1.0}
        assert samples(text, "openkms_in_flight_requests") == {(): 0.0}
        assert samples(text, "openkms_scheduler_lag_seconds") == {(): 0.0}  # it ran at start
        assert "python_gc_objects_collected_total" not in text  # multi-process mode: the files only
