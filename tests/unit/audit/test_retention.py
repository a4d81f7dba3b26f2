"""Retention deletes old sealed segments on the record, and verify still passes: it tells a
segment retention deleted from one deleted by hand."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from openkms.audit import files
from openkms.audit.checkpoints import read_checkpoint, signature_path
from openkms.audit.keys import AuditKeys
from openkms.audit.retention import EVENT_NAME
from openkms.audit.trail import AuditTrail
from openkms.audit.verify import verify
from openkms.system import ManualClock
from tests.unit.audit.conftest import TrailFactory, write

DAY = 86_400


def _age(path: Path, when: float) -> None:
    os.utime(path, (when, when))


@pytest.fixture
def retained(make_trail: TrailFactory, tmp_path: Path, clock: ManualClock) -> tuple[AuditTrail, Path]:
    """Segments 0-14 (three days old) and 15-29 (fresh); the rotation at event 30 applies retention."""
    clock.set(time.time())  # files are dated by the real clock
    trail = make_trail(checkpoint_events=10, segment_seconds=1000, retention_days=1)
    write(trail, 15)
    clock.advance(1000)
    write(trail, 15, 15)
    chain = tmp_path / "audit" / "n-0"
    first, second = (p for _, p in files.segments(chain))
    _age(first, clock.now() - 3 * DAY)
    _age(second, clock.now())
    clock.advance(1000)
    write(trail, 5, 30)
    trail.close()
    return trail, chain


def test_old_segments_go_and_the_trail_still_verifies(retained: tuple[AuditTrail, Path], keys: AuditKeys) -> None:
    _, chain = retained
    assert [files.segment_seq(p.name) for _, p in files.segments(chain)] == [15, 30]
    report = verify(chain.parent, keys.public)
    assert report.ok, report.problem
    (summary,) = report.chains
    assert (summary.first_seq, summary.events) == (15, 36)  # 35 events and the retention's own


def test_the_deletion_is_an_event_and_a_signed_declaration(retained: tuple[AuditTrail, Path], keys: AuditKeys) -> None:
    _, chain = retained
    lines = (chain / files.segment_name(30)).read_bytes().splitlines()
    record = json.loads(lines[0])["event"]
    assert record["eventName"] == EVENT_NAME
    assert record["eventType"] == "AliyunServiceEvent"
    (deleted,) = record["requestParameters"]["Segments"]
    assert deleted["Name"] == files.segment_name(0)
    declared = [read_checkpoint(p)[0].retention for _, p in files.checkpoint_files(chain)]
    retention = next(r for r in declared if r is not None)
    assert retention.first_seq == 15
    assert retention.deleted == ((files.segment_name(0), deleted["Sha256"]),)
    kept = [i for i, _ in files.checkpoint_files(chain)]
    assert kept[0] == retention.first_checkpoint == 1  # checkpoint 0 (at 10) went with its segment


def test_a_segment_deleted_by_hand_is_still_caught(retained: tuple[AuditTrail, Path], keys: AuditKeys) -> None:
    _, chain = retained
    (chain / files.segment_name(15)).unlink()
    problem = verify(chain.parent, keys.public).problem
    assert problem is not None
    assert "missing" in problem.message


def test_the_declaration_cannot_be_removed_quietly(retained: tuple[AuditTrail, Path], keys: AuditKeys) -> None:
    _, chain = retained
    for _, path in files.checkpoint_files(chain):
        if read_checkpoint(path)[0].retention is not None:
            path.unlink()
            signature_path(path).unlink()
    problem = verify(chain.parent, keys.public).problem
    assert problem is not None


def test_a_writer_restarted_after_retention_goes_on(
    retained: tuple[AuditTrail, Path], make_trail: TrailFactory, keys: AuditKeys
) -> None:
    _, chain = retained
    again = make_trail(checkpoint_events=10)
    write(again, 3, 100)
    again.close()
    report = verify(chain.parent, keys.public)
    assert report.ok, report.problem
    assert report.chains[0].events == 39


def test_zero_days_keeps_everything(make_trail: TrailFactory, tmp_path: Path, clock: ManualClock) -> None:
    trail = make_trail(segment_seconds=1000, retention_days=0)
    for start in (0, 5, 10):
        write(trail, 5, start)
        for _, path in files.segments(tmp_path / "audit" / "n-0"):
            _age(path, 0)
        clock.advance(1000)
    trail.close()
    assert len(files.segments(tmp_path / "audit" / "n-0")) == 3
