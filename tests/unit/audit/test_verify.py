"""The tamper matrix: each change an attacker could make to a trail, and whether verify names it.

The trail: one chain of 45 events in three segments of 15 (rotated by age), checkpoints at 10,
15 (sealing the first segment), 25, 30 (sealing the second), 40 and 45 (at close): numbers 0 to
5. After the last checkpoint, by design, verify can vouch for nothing: those cases assert that it
passes, so the documented limit is the tested one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openkms.audit import files
from openkms.audit.checkpoints import Checkpoint, read_checkpoint, signature_path
from openkms.audit.keys import AuditKeys
from openkms.audit.trail import AuditTrail
from openkms.audit.verify import Problem, verify
from openkms.system import ManualClock
from tests.unit.audit.conftest import TrailFactory, write


def _write_three_segments(trail: AuditTrail, clock: ManualClock) -> None:
    for start in (0, 15, 30):
        write(trail, 15, start)
        clock.advance(1000)  # the next event starts a new segment


@pytest.fixture
def chain(make_trail: TrailFactory, tmp_path: Path, clock: ManualClock) -> Path:
    trail = make_trail(checkpoint_events=10, segment_seconds=1000)
    _write_three_segments(trail, clock)
    trail.close()
    return tmp_path / "audit" / "n-0"


def _problem(chain: Path, keys: AuditKeys) -> Problem | None:
    return verify(chain.parent, keys.public).problem


def _expect(chain: Path, keys: AuditKeys, message: str, checkpoint: int | None = None) -> Problem:
    """The first problem verify finds: it says ``message`` (and names ``checkpoint``)."""
    problem = _problem(chain, keys)
    assert problem is not None
    assert message in problem.message
    assert checkpoint is None or problem.checkpoint == checkpoint
    return problem


def _segment(chain: Path, n: int) -> Path:
    return files.segments(chain)[n][1]


def _rewrite_lines(path: Path, change: object) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(change(lines)))  # type: ignore[operator]


def test_the_untouched_trail_verifies(chain: Path, keys: AuditKeys) -> None:
    report = verify(chain.parent, keys.public)
    assert report.ok
    (summary,) = report.chains
    assert (summary.events, summary.checkpoints, summary.unsealed) == (45, 6, 0)
    assert [files.segment_seq(p.name) for _, p in files.segments(chain)] == [0, 15, 30]


def test_an_edited_line(chain: Path, keys: AuditKeys) -> None:
    seg = _segment(chain, 1)
    _rewrite_lines(seg, lambda ls: [ls[0], ls[1].replace(b"192.0.2.1", b"192.0.2.9"), *ls[2:]])
    problem = _problem(chain, keys)
    assert problem is not None
    assert (problem.path, problem.line) == (seg, 3)
    assert "previous line was edited" in problem.message


def test_an_edited_last_line_of_a_segment(chain: Path, keys: AuditKeys) -> None:
    seg = _segment(chain, 1)
    _rewrite_lines(seg, lambda ls: [*ls[:-1], ls[-1].replace(b"event-", b"EVENT-")])
    problem = _problem(chain, keys)
    assert problem is not None
    assert problem.checkpoint == 3  # the checkpoint that sealed the segment
    assert "Merkle root differs" in problem.message


def test_an_edited_last_line_of_the_chain(chain: Path, keys: AuditKeys) -> None:
    seg = _segment(chain, -1)
    _rewrite_lines(seg, lambda ls: [*ls[:-1], ls[-1].replace(b"event-44", b"event-00")])
    _expect(chain, keys, "Merkle root differs", 5)


@pytest.mark.parametrize(
    ("segment", "change", "line"),
    [
        pytest.param(1, lambda ls: [ls[0], *ls[2:]], 2, id="removed"),
        pytest.param(0, lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], 2, id="reordered"),
        pytest.param(2, lambda ls: [ls[0], ls[1], ls[1], *ls[2:]], 3, id="inserted"),
    ],
)
def test_a_removed_reordered_or_inserted_line(
    chain: Path, keys: AuditKeys, segment: int, change: object, line: int
) -> None:
    seg = _segment(chain, segment)
    _rewrite_lines(seg, change)
    problem = _problem(chain, keys)
    assert problem is not None
    assert (problem.path, problem.line) == (seg, line)
    assert "removed, inserted or moved" in problem.message


def test_a_deleted_segment(chain: Path, keys: AuditKeys) -> None:
    seg = _segment(chain, 1)
    seg.unlink()
    problem = _problem(chain, keys)
    assert problem is not None
    assert problem.path == seg
    assert "is missing" in problem.message


def test_a_deleted_last_segment_is_a_cut_before_the_last_checkpoint(chain: Path, keys: AuditKeys) -> None:
    _segment(chain, -1).unlink()
    assert "tail cut" in _expect(chain, keys, "covers 40 lines but the chain has 30", 4).message


def test_a_tail_cut_before_the_last_checkpoint(chain: Path, keys: AuditKeys) -> None:
    _rewrite_lines(_segment(chain, -1), lambda ls: ls[:-2])
    _expect(chain, keys, "covers 45 lines but the chain has 43", 5)


def test_a_checkpoint_edited_after_signing(chain: Path, keys: AuditKeys) -> None:
    path = files.checkpoint_files(chain)[2][1]
    path.write_bytes(path.read_bytes().replace(b'"treeSize":25', b'"treeSize":24'))
    assert _expect(chain, keys, "signature does not verify", 2).path == path


def test_a_checkpoint_signed_by_another_key(chain: Path, keys: AuditKeys) -> None:
    path = files.checkpoint_files(chain)[1][1]
    checkpoint = Checkpoint.from_bytes(path.read_bytes())
    forged = Checkpoint(**{**checkpoint.__dict__, "root": "00" * 32})
    data = forged.to_bytes()
    path.write_bytes(data)
    signature_path(path).write_bytes(Ed25519PrivateKey.generate().sign(data))
    _expect(chain, keys, "signature does not verify", 1)


def test_a_deleted_checkpoint(chain: Path, keys: AuditKeys) -> None:
    path = files.checkpoint_files(chain)[2][1]
    path.unlink()
    signature_path(path).unlink()
    problem = _problem(chain, keys)
    assert problem is not None
    assert (problem.path.name, problem.checkpoint) == (path.name, 2)
    assert "missing" in problem.message


def test_a_deleted_first_checkpoint(chain: Path, keys: AuditKeys) -> None:
    path = files.checkpoint_files(chain)[0][1]
    path.unlink()
    problem = _problem(chain, keys)
    assert problem is not None
    assert problem.checkpoint == 0


def test_a_missing_signature_file(chain: Path, keys: AuditKeys) -> None:
    signature_path(files.checkpoint_files(chain)[3][1]).unlink()
    problem = _problem(chain, keys)
    assert problem is not None
    assert problem.checkpoint == 3


def test_a_renamed_segment(chain: Path, keys: AuditKeys) -> None:
    seg = _segment(chain, 1)
    seg.rename(seg.with_name(files.segment_name(files.segment_seq(seg.name) + 1)))  # type: ignore[operator]
    assert _problem(chain, keys) is not None


def test_a_wrong_public_key(chain: Path) -> None:
    other = AuditKeys(Ed25519PrivateKey.generate(), b"x" * 32)
    problem = _problem(chain, other)
    assert problem is not None
    assert problem.checkpoint == 0


# --- after the last checkpoint ------------------------------------------------------------------


@pytest.fixture
def crashed(make_trail: TrailFactory, tmp_path: Path, clock: ManualClock) -> Path:
    """A trail as a crash leaves it: 40 events sealed, 5 written after the last checkpoint."""
    trail = make_trail(checkpoint_events=10, segment_seconds=1000)
    _write_three_segments(trail, clock)
    copy = tmp_path / "crashed"
    shutil.copytree(tmp_path / "audit", copy)
    return copy / "n-0"


def test_the_unsealed_tail_verifies_and_is_counted(crashed: Path, keys: AuditKeys) -> None:
    report = verify(crashed.parent, keys.public)
    assert report.ok
    assert (report.chains[0].events, report.chains[0].unsealed) == (45, 5)


def test_cutting_whole_lines_after_the_last_checkpoint_is_not_detected(crashed: Path, keys: AuditKeys) -> None:
    _rewrite_lines(_segment(crashed, -1), lambda ls: ls[:-3])
    report = verify(crashed.parent, keys.public)
    assert report.ok  # nothing vouches for the unsealed tail
    assert report.chains[0].events == 42


def test_rewriting_the_last_unsealed_line_is_not_detected(crashed: Path, keys: AuditKeys) -> None:
    _rewrite_lines(_segment(crashed, -1), lambda ls: [*ls[:-1], ls[-1].replace(b"192.0.2.1", b"192.0.2.7")])
    assert verify(crashed.parent, keys.public).ok


def test_cutting_a_line_in_half_after_the_last_checkpoint_is_detected(crashed: Path, keys: AuditKeys) -> None:
    seg = _segment(crashed, -1)
    seg.write_bytes(seg.read_bytes()[:-40])
    problem = _problem(crashed, keys)
    assert problem is not None
    assert "incomplete" in problem.message


def test_deleting_the_newest_checkpoint_with_its_lines_is_not_detected(chain: Path, keys: AuditKeys) -> None:
    """The trail then looks as it did at checkpoint 3: only a copy of checkpoint 4 kept elsewhere
    (its treeSize 45 and rootHash) shows the cut."""
    last = files.checkpoint_files(chain)[-1][1]
    covered = read_checkpoint(last)[0]
    last.unlink()
    signature_path(last).unlink()
    seg = chain / covered.segment.name
    previous = read_checkpoint(files.checkpoint_files(chain)[-1][1])[0]
    if previous.segment.name == seg.name:
        seg.write_bytes(seg.read_bytes()[: previous.segment.bytes])
    else:
        seg.unlink()
    report = verify(chain.parent, keys.public)
    assert report.ok
    assert report.chains[0].events == 40
