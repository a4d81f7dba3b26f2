"""Quotas on the instance gateway: its operations spend the RPC API's classes (domain/quotas.py,
service "gateway"); over the rate, a protobuf Error 429 Rejected.Throttling with Retry-After,
which alibabacloud-dkms-gcs retries by itself; the test control API's faults reach it too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from openkms.domain.quotas import QuotaClass, Rate
from openkms.protocol.gateway.messages import new
from tests.audit_support import events
from tests.e2e.gateway_support import App, b64, ok, provision, run_clients, signed_post
from tests.servers import InProcessServer, inprocess_server

ONE_PER_1000_SECONDS = Rate(0.001)


def answered(code: str) -> float:
    return REGISTRY.get_sample_value("openkms_requests_total", {"action": "AdvanceEncrypt", "code": code}) or 0.0


def _encrypt_body(app: App) -> bytes:
    key_id = app.kms.call("CreateKey")["KeyMetadata"]["KeyId"]
    return new("AdvanceEncryptRequest", KeyId=key_id, Plaintext=b"x").SerializeToString()


@pytest.fixture
def scarce(tmp_path: Path) -> Iterator[InProcessServer]:
    """Symmetric cryptography at one request per 1,000 s of the server's clock: real time refills nothing."""
    with inprocess_server(tmp_path / "data", admin_quotas=((QuotaClass.CRYPTO_SYM, ONE_PER_1000_SECONDS),)) as srv:
        yield srv


def test_over_its_rate_the_gateway_answers_429_with_retry_after(scarce: InProcessServer) -> None:
    app = provision(scarce, own_account=True)
    body = _encrypt_body(app)
    assert signed_post(scarce, app.key_file, "AdvanceEncrypt", body)[0] == 200
    headers: dict[str, str] = {}
    status, error = signed_post(scarce, app.key_file, "AdvanceEncrypt", body, answer_headers=headers)
    assert status == 429
    assert headers["retry-after"] == "1000"  # whole seconds until the bucket holds a request again
    assert isinstance(error, dict)
    assert (error["StatusCode"], error["ErrorCode"], error["ErrorMessage"]) == (
        429, "Rejected.Throttling", "QPS Limit Exceeded"
    )  # fmt: skip
    refused = [
        e for e in events(scarce.data_dir / "audit") if e["eventName"] == "AdvanceEncrypt" and e.get("errorCode")
    ]
    assert [e["errorCode"] for e in refused] == ["Rejected.Throttling"]
    scarce.clock.advance(1000)  # the bucket refills on the server's clock
    assert signed_post(scarce, app.key_file, "AdvanceEncrypt", body)[0] == 200


def test_dkms_gcs_retries_a_throttled_request_by_itself(tmp_path: Path) -> None:
    # One request a second: the SDK's own backoff (about a second) finds the bucket refilled.
    with inprocess_server(tmp_path / "data", admin_quotas=((QuotaClass.CRYPTO_SYM, Rate(1.0)),)) as srv:
        app = provision(srv, own_account=True)
        key_id = app.kms.call("CreateKey")["KeyMetadata"]["KeyId"]
        throttled, done = answered("Rejected.Throttling"), answered("OK")
        calls = [["dkms", "advance_encrypt", {"key_id": key_id, "plaintext": b64(b"x")}]] * 2
        results = run_clients(srv, app.key_file, calls)
        assert all(ok(r)["KeyId"] == key_id for r in results)
        assert answered("OK") - done == 2
        assert answered("Rejected.Throttling") - throttled >= 1  # refused at least once, then retried


def test_fault_rules_reach_the_gateway(tmp_path: Path) -> None:
    with inprocess_server(tmp_path / "data", control_api=True) as srv:
        app = provision(srv, own_account=True)
        body = _encrypt_body(app)
        assert srv.runtime.control is not None
        srv.runtime.control.faults.add({"Action": "AdvanceEncrypt", "Preset": "unavailable", "Count": 1})
        status, error = signed_post(srv, app.key_file, "AdvanceEncrypt", body)
        assert status == 503
        assert isinstance(error, dict)
        assert error["ErrorCode"] == "ServiceUnavailable"
        assert signed_post(srv, app.key_file, "AdvanceEncrypt", body)[0] == 200  # the rule's one count is spent
        logged = [r.action for r in srv.runtime.control.requests.last(10)]
        assert logged[-2:] == ["AdvanceEncrypt", "AdvanceEncrypt"]
