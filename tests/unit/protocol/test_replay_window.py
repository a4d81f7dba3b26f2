"""A signed request can be replayed only while its timestamp is acceptable, so its nonce must be
remembered for that whole time: up to 30 minutes after first use when the client's clock runs
up to 15 minutes ahead."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.inproc import Inproc

MINUTE = 60


def _code(rt: Inproc, timestamp: float, nonce: str) -> str:
    resp = rt.request("DescribeAccountKmsStatus", timestamp=timestamp, nonce=nonce)
    return "OK" if resp.status == 200 else str(json.loads(resp.body)["Code"])


@pytest.mark.parametrize("skew_minutes", [-14, 0, 14])
@pytest.mark.parametrize("replay_after_minutes", [1, 14, 16, 20, 28])
def test_a_request_is_never_accepted_twice(rt: Inproc, skew_minutes: int, replay_after_minutes: int) -> None:
    signed_at = rt.auth_clock.now() + skew_minutes * MINUTE  # the client's clock is off by this much
    nonce = uuid.uuid4().hex
    assert _code(rt, signed_at, nonce) == "OK"
    rt.auth_clock.advance(replay_after_minutes * MINUTE)
    replayed = _code(rt, signed_at, nonce)
    # Either the timestamp has expired or the nonce is remembered; never a second success.
    assert replayed in ("SignatureNonceUsed", "InvalidTimeStamp.Expired")


def test_the_replay_of_a_request_dated_ahead_is_refused_as_a_used_nonce(rt: Inproc) -> None:
    signed_at = rt.auth_clock.now() + 14 * MINUTE
    nonce = uuid.uuid4().hex
    assert _code(rt, signed_at, nonce) == "OK"
    rt.auth_clock.advance(20 * MINUTE)  # 6 minutes after the signed time: the timestamp is still fine
    assert _code(rt, signed_at, nonce) == "SignatureNonceUsed"
