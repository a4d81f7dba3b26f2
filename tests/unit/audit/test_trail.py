"""The writer: lines and their chain, checkpoints by count and by time, rotation by size and
age, a chain per process taken up again after a restart, and nothing on disk before an event."""

from __future__ import annotations

import json
from pathlib import Path

from openkms.audit import files
from openkms.audit.checkpoints import read_checkpoint
from openkms.audit.keys import AuditKeys
from openkms.audit.verify import verify
from openkms.system import ManualClock
from tests.unit.audit.conftest import TrailFactory, event, write


def _chain(tmp_path: Path, name: str = "n-0") -> Path:
    return tmp_path / "audit" / name


def _lines(chain: Path) -> list[bytes]:
    return [line for _, p in files.segments(chain) for line in p.read_bytes().splitlines()]


def test_lines_chain_each_to_the_one_before(make_trail: TrailFactory, tmp_path: Path) -> None:
    trail = make_trail()
    write(trail, 3)
    lines = _lines(_chain(tmp_path))
    docs = [json.loads(line) for line in lines]
    assert [d["seq"] for d in docs] == [0, 1, 2]
    assert docs[0]["prev"] == "0" * 64
    assert docs[1]["prev"] == files.line_hash(lines[0])
    assert docs[2]["prev"] == files.line_hash(lines[1])
    assert lines[0] == b'{"event":' + event(0).to_json().encode() + b',"prev":"' + b"0" * 64 + b'","seq":0}'


def test_nothing_is_written_before_the_first_event(make_trail: TrailFactory, tmp_path: Path) -> None:
    trail = make_trail()
    assert sorted(p.name for p in (tmp_path / "audit").iterdir()) == ["public-key.pem"]
    trail.close()
    assert sorted(p.name for p in (tmp_path / "audit").iterdir()) == ["public-key.pem"]


def test_a_checkpoint_every_n_events_and_one_at_close(make_trail: TrailFactory, tmp_path: Path) -> None:
    trail = make_trail(checkpoint_events=10)
    write(trail, 25)
    assert [i for i, _ in files.checkpoint_files(_chain(tmp_path))] == [0, 1]
    trail.close()
    found = files.checkpoint_files(_chain(tmp_path))
    assert [read_checkpoint(p)[0].tree_size for _, p in found] == [10, 20, 25]
    assert verify(tmp_path / "audit", trail._keys.public).ok


def test_a_quiet_trail_is_sealed_after_checkpoint_seconds(
    make_trail: TrailFactory, tmp_path: Path, clock: ManualClock
) -> None:
    trail = make_trail(checkpoint_events=1000, checkpoint_seconds=60)
    write(trail, 2)
    clock.advance(59)
    trail.tick()
    assert files.checkpoint_files(_chain(tmp_path)) == []
    clock.advance(1)
    trail.tick()
    assert len(files.checkpoint_files(_chain(tmp_path))) == 1
    clock.advance(600)
    trail.tick()  # nothing new: no checkpoint
    assert len(files.checkpoint_files(_chain(tmp_path))) == 1


def test_the_timer_thread_seals(make_trail: TrailFactory, tmp_path: Path) -> None:
    from openkms.system import SystemClock

    trail = make_trail(checkpoint_events=1000, checkpoint_seconds=0.2)
    trail._clock = SystemClock()
    write(trail, 1)
    import time

    deadline = time.monotonic() + 10
    while not files.checkpoint_files(_chain(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(files.checkpoint_files(_chain(tmp_path))) == 1


def test_segments_rotate_by_size_and_by_age(make_trail: TrailFactory, tmp_path: Path, clock: ManualClock) -> None:
    trail = make_trail(segment_bytes=2000, segment_seconds=3600, checkpoint_events=1000)
    write(trail, 10)
    by_size = files.segments(_chain(tmp_path))
    assert len(by_size) >= 3
    assert all(p.stat().st_size < 2000 + 600 for _, p in by_size)
    clock.advance(3600)
    trail.tick()
    write(trail, 1, start=10)
    assert len(files.segments(_chain(tmp_path))) == len(by_size) + 1
    sealed = [read_checkpoint(p)[0] for _, p in files.checkpoint_files(_chain(tmp_path))]
    assert all(c.segment.sealed for c in sealed)
    for c in sealed:  # a sealed segment's whole file is what its checkpoint hashed
        path = _chain(tmp_path) / c.segment.name
        assert path.stat().st_size == c.segment.bytes
    trail.close()
    assert verify(tmp_path / "audit", trail._keys.public).ok


def test_a_restarted_writer_continues_its_chain(make_trail: TrailFactory, tmp_path: Path, keys: AuditKeys) -> None:
    first = make_trail()
    write(first, 15)
    first.close()
    second = make_trail()
    write(second, 7, start=15)
    assert second.chain_id == "n-0"
    second.close()
    report = verify(tmp_path / "audit", keys.public)
    assert report.ok, report.problem
    assert [c.events for c in report.chains] == [22]


def test_a_crash_mid_line_is_cut_back_at_restart(make_trail: TrailFactory, tmp_path: Path, keys: AuditKeys) -> None:
    first = make_trail()
    write(first, 12)
    first.close()
    segment = files.segments(_chain(tmp_path))[-1][1]
    with segment.open("ab") as fh:
        fh.write(b'{"event":{"half a li')
    assert not verify(tmp_path / "audit", keys.public).ok
    second = make_trail()
    write(second, 1, start=12)
    second.close()
    report = verify(tmp_path / "audit", keys.public)
    assert report.ok, report.problem
    assert report.chains[0].events == 13


def test_two_writers_in_one_directory_take_two_chains(
    make_trail: TrailFactory, tmp_path: Path, keys: AuditKeys
) -> None:
    a, b = make_trail(), make_trail()
    write(a, 3)
    write(b, 4)
    assert (a.chain_id, b.chain_id) == ("n-0", "n-1")
    a.close()
    b.close()
    report = verify(tmp_path / "audit", keys.public)
    assert report.ok
    assert {c.chain: c.events for c in report.chains} == {"n-0": 3, "n-1": 4}


def test_a_chain_that_cannot_be_continued_is_left_alone(
    make_trail: TrailFactory, tmp_path: Path, keys: AuditKeys
) -> None:
    first = make_trail()
    write(first, 12)
    first.close()
    segment = files.segments(_chain(tmp_path))[-1][1]
    segment.write_bytes(segment.read_bytes().replace(b"event-11", b"event-99"))
    second = make_trail()
    write(second, 1)
    assert second.chain_id == "n-1"
    assert segment.read_bytes().count(b"event-99") == 1  # the evidence is kept
