"""Fail-closed through a server whose audit directory is a real 1 MiB file system that fills up:
the request admitted before the disk filled is done and recorded; the next is refused with 503
ServiceUnavailableTemporary and does nothing; with room again requests go on, and the trail
verifies. Best-effort on the same full disk answers and counts the lost events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.audit.verify import verify
from openkms.domain.identity import Caller
from openkms.service.keys import CreateKeyRequest
from tests.audit_support import events, fill, small_disk
from tests.e2e.signed import Signer
from tests.servers import InProcessServer, inprocess_server

__all__ = ["small_disk"]  # a fixture


@pytest.fixture
def fail_closed(tmp_path: Path, small_disk: Path) -> Iterator[InProcessServer]:
    with inprocess_server(tmp_path / "data", audit_mode="fail-closed", audit_directory=small_disk / "audit") as srv:
        yield srv


def _count(srv: InProcessServer, caller: Caller) -> int:
    with srv.runtime.store.read() as uow:
        return uow.keys.count(caller.account_uid, caller.region)


def test_a_request_the_trail_cannot_record_is_refused_and_does_nothing(
    fail_closed: InProcessServer, small_disk: Path
) -> None:
    srv = fail_closed
    signer = Signer.for_new_account(srv)
    caller = Caller(srv.services.identity.credential(signer.access_key_id).account_uid, "cn-hangzhou")
    key_id = srv.services.keys.create_key(caller, CreateKeyRequest()).id
    assert signer.v1("DescribeKey", {"KeyId": key_id}).send().status_code == 200

    filler = fill(small_disk, leave=0)
    admitted = []  # those that fit in the segment's last page, then the one the reserve made room for
    for _ in range(100):
        resp = signer.v1("CreateKey").send()
        if resp.status_code != 200:
            break
        admitted.append(resp.json()["RequestId"])
    refused = resp
    assert refused.status_code == 503
    assert refused.json()["Code"] == "ServiceUnavailableTemporary"
    assert admitted
    assert _count(srv, caller) == 1 + len(admitted)  # the refused request made nothing
    assert signer.v1("Encrypt", {"KeyId": key_id, "Plaintext": "aGk="}).send().status_code == 503

    filler.unlink()
    srv.clock.advance(2)  # the reserve is tried again at most once a second
    assert signer.v1("CreateKey").send().status_code == 200
    trail = {e["requestId"]: e for e in events(small_disk / "audit")}
    assert all(trail[request_id]["errorCode"] == "" for request_id in admitted)
    # The refusal itself is recorded when its line still fits: as the refusal it was.
    refusal = trail.get(refused.json()["RequestId"])
    assert refusal is None or refusal["errorCode"] == "ServiceUnavailableTemporary"
    srv.runtime.audit.close()
    report = verify(small_disk / "audit", srv.runtime.audit.public_key)  # type: ignore[attr-defined]
    assert report.ok, report.problem


def test_best_effort_answers_on_a_full_disk_and_counts(tmp_path: Path, small_disk: Path) -> None:
    with inprocess_server(tmp_path / "data", audit_mode="best-effort", audit_directory=small_disk / "audit") as srv:
        signer = Signer.for_new_account(srv)
        assert signer.v1("DescribeRegions").send().status_code == 200
        filler = fill(small_disk, leave=0)
        for _ in range(20):  # more than the last page of the segment holds
            assert signer.v1("DescribeRegions").send().status_code == 200
        assert srv.runtime.audit.failures >= 10  # type: ignore[attr-defined]
        filler.unlink()
