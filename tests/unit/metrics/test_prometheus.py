"""The metrics adapter through the request pipeline (real signed requests, one process): what is
counted, and that no label ever carries a key id, an AccessKey or an account."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from openkms.metrics import prometheus
from openkms.protocol.app import RpcHandler
from openkms.system import SingleNode
from tests.inproc import Inproc, inproc_runtime

ALLOWED_LABELS = {"action", "code", "quota_class", "key_store", "protection_level", "le"}


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Inproc]:
    with inproc_runtime(tmp_path / "data", quota_profile="alibaba-shared") as runtime:
        runtime.handler = RpcHandler(
            runtime.runtime.services, runtime.runtime.nonces, runtime.auth_clock, metrics=prometheus.PrometheusMetrics()
        )
        yield runtime


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(rt: Inproc) -> str:
    backends = rt.runtime.backends
    assert backends is not None
    live = prometheus.LiveState(
        lambda: [(s, level.value, f is None) for s, level, f in backends.health()],
        SingleNode().is_leader,
        rt.clock.now,
        30.0,
    )
    return prometheus.exposition(live).decode()


def test_requests_are_counted_by_action_and_code_with_their_latency(rt: Inproc) -> None:
    before_ok = value("openkms_requests_total", action="CreateKey", code="OK")
    before_hist = value("openkms_request_duration_seconds_count", action="CreateKey")
    before_missing = value("openkms_requests_total", action="DescribeKey", code="Forbidden.KeyNotFound")
    for _ in range(3):
        assert rt.request("CreateKey").status == 200
    assert rt.request("DescribeKey", {"KeyId": str(uuid.uuid4())}).status == 404
    assert value("openkms_requests_total", action="CreateKey", code="OK") - before_ok == 3
    assert value("openkms_request_duration_seconds_count", action="CreateKey") - before_hist == 3
    assert value("openkms_requests_total", action="DescribeKey", code="Forbidden.KeyNotFound") - before_missing == 1
    assert value("openkms_in_flight_requests") == 0  # every request that started has finished


def test_quota_rejections_and_nonce_refusals_are_counted(rt: Inproc) -> None:
    throttled = value("openkms_throttled_total", quota_class="create_key")
    replays = value("openkms_nonce_refusals_total")
    for _ in range(12):  # CreateKey: 10 per second
        rt.request("CreateKey")
    assert value("openkms_throttled_total", quota_class="create_key") - throttled == 2
    nonce = uuid.uuid4().hex
    assert rt.request("DescribeAccountKmsStatus", nonce=nonce).status == 200
    assert json.loads(rt.request("DescribeAccountKmsStatus", nonce=nonce).body)["Code"] == "SignatureNonceUsed"
    assert value("openkms_nonce_refusals_total") - replays == 1


def test_no_label_carries_a_key_id_an_accesskey_or_an_account(rt: Inproc) -> None:
    key_id = json.loads(rt.request("CreateKey").body)["KeyMetadata"]["KeyId"]
    rt.request("Encrypt", {"KeyId": key_id, "Plaintext": "aGVsbG8="})
    rt.request("CreateAlias", {"KeyId": key_id, "AliasName": "alias/metrics-test"})
    rt.request("DescribeKey", {"KeyId": "alias/metrics-test"})
    rt.request("DescribeKey", {"KeyId": "key-" + uuid.uuid4().hex})  # not found: its id is in no label
    rt.request("NoSuchAction")  # unknown actions are counted as "?"
    rt.access_key_id, good = "LTAI" + uuid.uuid4().hex[:20], rt.access_key_id
    rt.request("DescribeKey", {"KeyId": key_id})  # an unknown AccessKey
    rt.access_key_id = good
    text = scrape(rt)
    secrets = [key_id, "metrics-test", good, rt.account_uid, rt.secret]
    seen_actions = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("openkms_"):  # (one process also shows python_gc_*, process_*)
                assert set(sample.labels) <= ALLOWED_LABELS, (sample.name, sample.labels)
            for label_value in sample.labels.values():
                assert not any(s in label_value for s in secrets), (sample.name, sample.labels)
            seen_actions.add(sample.labels.get("action"))
    assert {"CreateKey", "Encrypt", "DescribeKey", "?"} <= seen_actions  # the scrape saw these requests
    assert "NoSuchAction" not in seen_actions


def test_the_live_state_is_read_at_the_scrape(rt: Inproc) -> None:
    families = {f.name: f for f in text_string_to_metric_families(scrape(rt))}
    assert families["openkms_leader"].samples[0].value == 1
    stores = {(s.labels["key_store"], s.labels["protection_level"]): s.value
              for s in families["openkms_key_store_up"].samples}  # fmt: skip
    assert stores[("default", "SOFTWARE")] == 1
    # The lag is shown once a scheduler run is recorded: in this process, by whichever earlier test
    # ran one (the registry is the process's), so both sides are read rather than assumed.
    recorded = prometheus.newest_run(prometheus.counted())
    assert ("openkms_scheduler_lag_seconds" in families) == (recorded is not None)


def test_scheduler_lag_is_behind_the_interval() -> None:
    live = prometheus.LiveState(list, SingleNode().is_leader, lambda: 1_000.0, 30.0)
    live.last_run = 900.0
    families = {f.name: f for f in live.collect()}
    assert families["openkms_scheduler_lag_seconds"].samples[0].value == 70.0
    live.last_run = 990.0
    assert {f.name: f for f in live.collect()}["openkms_scheduler_lag_seconds"].samples[0].value == 0.0


def test_a_workers_files_are_allocated_before_prometheus_client_maps_them(tmp_path: Path) -> None:
    # A write into an unallocated page of a mapped file on a full disk is SIGBUS, not an error:
    # tests/e2e/test_health.py's full-disk test lost a worker that way before the reservation.
    from prometheus_client.mmap_dict import MmapedDict

    prometheus.reserve_files(str(tmp_path), 4242, 1 << 16)
    for prefix in ("counter", "histogram", "gauge_livesum", "gauge_max"):
        path = tmp_path / f"{prefix}_4242.db"
        assert path.stat().st_size == 1 << 16
        assert path.stat().st_blocks * 512 >= 1 << 16  # allocated, not a sparse file
        mapped = MmapedDict(str(path))  # taken as an empty file of that capacity
        mapped.write_value("k", 1.5, 0.0)
        mapped.close()
        assert [(k, v) for k, v, _, _ in MmapedDict.read_all_values_from_file(str(path))] == [("k", 1.5)]
        assert path.stat().st_size == 1 << 16  # not grown


def test_batched_counts_reach_the_samples_as_direct_ones_do_once_flushed() -> None:
    # One metrics object counts directly, the other in memory; the same requests under two action
    # names must give the same samples once the batched one is flushed, and none before.
    direct, batched = prometheus.PrometheusMetrics(batched=False), prometheus.PrometheusMetrics(batched=True)
    durations = [0.0, 0.004, 0.005, 0.0051, 0.3, 2.5, 9.0, 11.0, 60.0]
    names = {direct: "BatchTestDirect", batched: "BatchTestBatched"}

    def counted(action: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
            for sample in family.samples:
                if sample.labels.get("action") == action and not sample.name.endswith("_created"):
                    rest = {k: v for k, v in sample.labels.items() if k != "action"}
                    out[f"{sample.name}{sorted(rest.items())}"] = sample.value
        return out

    before_in_flight = value("openkms_in_flight_requests")
    for metrics, action in names.items():
        for seconds in durations:
            metrics.started()
            metrics.finished(action, "OK", seconds)
        metrics.started()
        metrics.finished(action, "Rejected.Throttling", 0.01)
    batched.started()  # one still in flight: the gauge shows it once flushed
    assert counted(names[batched]) == {}
    batched.flush()
    assert value("openkms_in_flight_requests") == before_in_flight + 1
    assert counted(names[batched]) == counted(names[direct])
    assert counted(names[direct])["openkms_requests_total[('code', 'OK')]"] == len(durations)
    batched.finished(names[batched], "OK", 0.2)
    batched.close()
    assert value("openkms_in_flight_requests") == before_in_flight
    assert value("openkms_requests_total", action=names[batched], code="OK") == len(durations) + 1
