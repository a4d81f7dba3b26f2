"""A real full file system (a 1 MiB tmpfs, as root): fail-closed refuses the event and leaves
nothing half-written; best-effort drops, counts and logs once per run of failures."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from openkms.audit import files
from openkms.audit.keys import AuditKeys
from openkms.audit.trail import AuditConfig, open_trail
from openkms.audit.verify import verify
from openkms.domain.errors import AuditUnavailable
from openkms.system import ManualClock
from tests.unit.audit.conftest import event


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a 1 MiB tmpfs needs root")
    where = tmp_path / "small"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def _fill(where: Path, leave: int) -> Path:
    """Fill the file system but for about ``leave`` bytes."""
    filler = where / "filler"
    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    with filler.open("wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(free - leave, 0))
    return filler


def _complete_lines(directory: Path) -> bool:
    return all(p.read_bytes().endswith(b"\n") for chain in files.chains(directory) for _, p in files.segments(chain))


def test_fail_closed_refuses_and_leaves_nothing_half_written(
    small_disk: Path, keys: AuditKeys, clock: ManualClock
) -> None:
    config = AuditConfig(small_disk / "audit", mode="fail-closed", node="n", checkpoint_events=20)
    trail = open_trail(config, keys, clock)
    trail.record(event(0))
    filler = _fill(small_disk, leave=24 * 1024)
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
    filler = _fill(small_disk, leave=8 * 1024)
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
