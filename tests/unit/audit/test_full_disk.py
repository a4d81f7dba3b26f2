"""A real full file system (a 1 MiB tmpfs, as root): fail-closed refuses the event and leaves
nothing half-written; best-effort drops, counts and logs once per run of failures."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from openkms.audit import files
from openkms.audit.keys import AuditKeys
from openkms.audit.trail import AuditConfig, open_trail
from openkms.audit.verify import verify
from openkms.domain.errors import AuditUnavailable
from openkms.system import ManualClock
from tests.audit_support import fill, small_disk
from tests.unit.audit.conftest import event

__all__ = ["small_disk"]  # a fixture


def _complete_lines(directory: Path) -> bool:
    return all(p.read_bytes().endswith(b"\n") for chain in files.chains(directory) for _, p in files.segments(chain))


def test_fail_closed_refuses_and_leaves_nothing_half_written(
    small_disk: Path, keys: AuditKeys, clock: ManualClock
) -> None:
    config = AuditConfig(small_disk / "audit", mode="fail-closed", node="n", checkpoint_events=20)
    trail = open_trail(config, keys, clock)
    trail.record(event(0))
    filler = fill(small_disk, leave=24 * 1024)
    written, refused = 1, None
    for n in range(1, 10_000):
        try:
            trail.record(event(n))
        except AuditUnavailable as exc:
            refused = exc
            break
        written += 1
    assert refused is not None
    assert written > 1  # some fitted, then the disk was full
    assert trail.failures == 1
    assert _complete_lines(small_disk / "audit")
    report = verify(small_disk / "audit", keys.public)
    assert report.ok, report.problem
    assert report.chains[0].events == written  # every event record() returned for is there, and no other

    filler.unlink()  # space again: the trail goes on, on the same chain
    trail.record(event(20_000))
    trail.close()
    report = verify(small_disk / "audit", keys.public)
    assert report.ok, report.problem
    assert (report.chains[0].events, report.chains[0].unsealed) == (written + 1, 0)


def test_best_effort_drops_counts_and_logs_once(
    small_disk: Path, keys: AuditKeys, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = AuditConfig(small_disk / "audit", mode="best-effort", node="n", checkpoint_events=20)
    trail = open_trail(config, keys, clock)
    trail.record(event(0))
    filler = fill(small_disk, leave=8 * 1024)
    with caplog.at_level(logging.ERROR, logger="openkms.audit"):
        for n in range(1, 200):
            trail.record(event(n))  # never raises
    assert trail.failures > 100
    refusals = [r for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(refusals) == 1
    assert _complete_lines(small_disk / "audit")
    filler.unlink()
    with caplog.at_level(logging.WARNING, logger="openkms.audit"):
        trail.record(event(500))
    assert any(f"{trail.failures} events failed" in r.getMessage() for r in caplog.records)
    trail.close()
    report = verify(small_disk / "audit", keys.public)
    assert report.ok, report.problem
    assert report.chains[0].events == 200 - trail.failures + 1


def test_fail_closed_admits_only_what_it_can_record(small_disk: Path, keys: AuditKeys, clock: ManualClock) -> None:
    """The reserve: every admitted request's event is written, even when the disk fills between
    its admission and its event; the next admission is refused until there is room again."""
    config = AuditConfig(small_disk / "audit", mode="fail-closed", node="n", checkpoint_events=20)
    trail = open_trail(config, keys, clock)
    trail.admit()
    trail.record(event(0))
    admitted = [trail.admit() for _ in range(5)]  # five requests in flight ...
    filler = fill(small_disk, leave=0)  # ... when the disk fills up completely
    for n in range(1, len(admitted) + 1):
        trail.record(event(n))  # each admitted request's event is written, from the reserve
    with pytest.raises(AuditUnavailable):
        trail.admit()  # a new request is refused before it does anything
    assert _complete_lines(small_disk / "audit")
    report = verify(small_disk / "audit", keys.public)
    assert report.ok, report.problem
    assert report.chains[0].events == 1 + len(admitted)

    filler.unlink()
    with pytest.raises(AuditUnavailable):
        trail.admit()  # the reserve is tried again at most once a second ...
    clock.advance(2)
    trail.admit()  # ... and then there is room for it
    trail.record(event(100))
    trail.close()
    report = verify(small_disk / "audit", keys.public)
    assert report.ok, report.problem
    assert report.chains[0].events == 2 + len(admitted)
