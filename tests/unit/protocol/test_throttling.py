"""Quotas through the request pipeline: real signed requests on the alibaba-shared profile, the
server's clock moved by the test. Over quota: 429 Rejected.Throttling "QPS Limit Exceeded" with
Retry-After, recorded in the audit trail as any other refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.protocol.app import Response
from tests.audit_support import one_event
from tests.inproc import Inproc, inproc_runtime


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Inproc]:
    with inproc_runtime(tmp_path / "data", quota_profile="alibaba-shared") as runtime:
        yield runtime


def _code(resp: Response) -> str:
    return "OK" if resp.status == 200 else str(json.loads(resp.body)["Code"])


def test_a_class_is_held_to_its_rate_within_a_fifth(rt: Inproc) -> None:
    # mgmt_read: 50 per second. Requests come at 150 per second of the server's clock for 10 s.
    admitted = 0
    for _ in range(1500):
        admitted += rt.request("DescribeAccountKmsStatus").status == 200
        rt.clock.advance(1 / 150)
    assert 0.8 * 500 <= admitted <= 1.2 * 500, admitted


def test_over_quota_is_429_rejected_throttling_with_retry_after(rt: Inproc) -> None:
    for _ in range(10):  # CreateKey: 10 per second
        assert rt.request("CreateKey").status == 200
    resp = rt.request("CreateKey")
    body = json.loads(resp.body)
    assert (resp.status, body["Code"], body["Message"], body["HttpStatus"]) == (
        429, "Rejected.Throttling", "QPS Limit Exceeded", 429,
    )  # fmt: skip
    assert body["RequestId"] == resp.request_id
    assert resp.retry_after == 1
    # Other classes are not spent; CreateKey's comes back as the clock moves.
    assert rt.request("DescribeAccountKmsStatus").status == 200
    rt.clock.advance(0.1)
    assert rt.request("CreateKey").status == 200
    assert _code(rt.request("CreateKey")) == "Rejected.Throttling"


def test_a_throttled_request_is_an_audit_event_with_its_code(rt: Inproc) -> None:
    for _ in range(10):
        rt.request("CreateKey")
    resp = rt.request("CreateKey")
    assert resp.status == 429
    event = one_event(rt.data_dir / "audit", resp.request_id)
    assert event["eventName"] == "CreateKey"
    assert event["errorCode"] == "Rejected.Throttling"
    assert event["errorMessage"] == "QPS Limit Exceeded"
    assert event["userIdentity"]["accessKeyId"] == rt.access_key_id


def test_an_unsigned_or_badly_signed_request_spends_no_quota(rt: Inproc) -> None:
    # The account is known only once the signature is checked: a forger cannot spend another's quota.
    rt.secret, good = "not-the-secret", rt.secret
    for _ in range(50):
        assert _code(rt.request("CreateKey")) == "SignatureDoesNotMatch"
    rt.secret = good
    for _ in range(10):
        assert rt.request("CreateKey").status == 200
