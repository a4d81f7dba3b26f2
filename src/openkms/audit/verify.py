"""Verify a trail: every chain and checkpoint below a directory, and the first problem found.

What is checked, per chain (``<chain>/``):

- every checkpoint's Ed25519 signature under the given public key, its chain name, its number
  (consecutive, none missing) and its ``previousSignature`` (the signature of the one before);
- every line: complete (ends in a newline), JSON, its ``seq`` the next number, its ``prev`` the
  SHA-256 of the line before (64 zeros for the chain's first line);
- every segment: named by the seq of its first line, following the one before without a gap;
  every segment but the last covered to its end by a checkpoint;
- at each checkpoint's tree size: the Merkle root, the last line's hash, and the hash of the
  segment's first ``bytes`` bytes recomputed from the lines; no checkpoint may cover more lines
  than the chain has;
- retention: segments and checkpoints older than the checkpoint named by the newest signed
  ``retention`` declaration may be absent (deleted on purpose); that checkpoint must be there
  with the declared signature, and the chain is verified from its state on.

So an edited, removed, reordered or inserted line, a deleted segment, a forged, edited or
deleted checkpoint, and a tail cut before the last checkpoint are each reported, with the file,
line or checkpoint where the chain stops being what was sealed.

What cannot be detected from the directory alone: everything after the last checkpoint of a
chain is vouched for by nothing but the unkeyed hash chain, so lines written after it (at most
``checkpoint_events`` events, or ``checkpoint_seconds`` seconds of them, or whatever a crash left
unsealed) can be cut off, or rewritten consistently, without a trace; cutting a line in the
middle is reported (an incomplete last line). Likewise, deleting the newest checkpoints together
with the lines they cover leaves an older, intact-looking trail, and deleting a whole chain
directory leaves the others intact. Those need a copy of a recent checkpoint kept elsewhere
(each chain's last ``treeSize`` and ``rootHash``, which ``verify`` prints): a trail whose chain is
shorter than a checkpoint seen before was truncated. A writer still running notices a cut in its
own segment: its next line lands past the cut end and ``verify`` reports the gap.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from openkms.audit import files
from openkms.audit.checkpoints import Checkpoint, Retention, read_checkpoint
from openkms.audit.keys import PublicKey
from openkms.audit.merkle import Frontier, leaf_hash


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    line: int | None = None  # 1-based, in ``path``
    checkpoint: int | None = None

    def __str__(self) -> str:
        where = f":{self.line}" if self.line is not None else ""
        which = f" (checkpoint {self.checkpoint})" if self.checkpoint is not None else ""
        return f"{self.path}{where}{which}: {self.message}"


@dataclass(frozen=True)
class ChainSummary:
    chain: str
    first_seq: int  # the first line kept (after retention)
    events: int  # lines in the chain, from seq 0
    checkpoints: int
    last_checkpoint: Checkpoint | None

    @property
    def unsealed(self) -> int:
        return self.events - (self.last_checkpoint.tree_size if self.last_checkpoint else 0)


@dataclass(frozen=True)
class Report:
    problem: Problem | None
    chains: list[ChainSummary] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


class _Stop(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _stop(path: Path, message: str, line: int | None = None, checkpoint: int | None = None) -> _Stop:
    return _Stop(Problem(path, message, line, checkpoint))


@dataclass
class _Signed:
    checkpoint: Checkpoint
    signature: bytes
    path: Path


def _read_signed(chain_dir: Path, key: PublicKey) -> list[_Signed]:
    """Every checkpoint file of the chain, each checked on its own (readable, signed, named)."""
    out = []
    for index, path in files.checkpoint_files(chain_dir):
        try:
            checkpoint, data, signature = read_checkpoint(path)
        except FileNotFoundError:
            raise _stop(path, "the checkpoint's signature file is missing", checkpoint=index) from None
        except (OSError, ValueError) as exc:
            raise _stop(path, f"the checkpoint cannot be read: {exc}", checkpoint=index) from None
        if not key.verifies(signature, data):
            raise _stop(path, "the checkpoint's signature does not verify (forged or edited)", checkpoint=index)
        if checkpoint.key_fingerprint != key.fingerprint:
            raise _stop(path, "the checkpoint names another signing key", checkpoint=index)
        if checkpoint.index != index or checkpoint.chain != chain_dir.name:
            raise _stop(path, "the checkpoint belongs elsewhere (its chain or number differs)", checkpoint=index)
        out.append(_Signed(checkpoint, signature, path))
    return out


def _start(signed: list[_Signed], chain_dir: Path) -> tuple[list[_Signed], Retention | None]:
    """The checkpoints from where the chain starts: its first, or the one the newest retention kept."""
    declared = [s.checkpoint.retention for s in signed if s.checkpoint.retention is not None]
    retention = declared[-1] if declared else None
    first = retention.first_checkpoint if retention else 0
    kept = [s for s in signed if s.checkpoint.index >= first]
    where = chain_dir / files.CHECKPOINTS / files.checkpoint_name(first)
    if signed and (not kept or kept[0].checkpoint.index != first):
        raise _stop(where, "the chain's first checkpoint is missing (deleted, and not by retention)", checkpoint=first)
    if retention and (
        kept[0].signature.hex() != retention.first_checkpoint_signature or not kept[0].checkpoint.segment.sealed
    ):
        raise _stop(where, "the checkpoint retention kept is not the one it names", checkpoint=first)
    for before, after in itertools.pairwise(kept):
        a, b = before.checkpoint, after.checkpoint
        if b.index != a.index + 1:
            raise _stop(
                where.with_name(files.checkpoint_name(a.index + 1)), "the checkpoint is missing", checkpoint=a.index + 1
            )
        if b.previous_signature != before.signature.hex():
            raise _stop(after.path, "previousSignature is not the previous checkpoint's signature", checkpoint=b.index)
        if b.tree_size < a.tree_size:
            raise _stop(after.path, "the tree shrank since the previous checkpoint", checkpoint=b.index)
    if kept and first == 0 and kept[0].checkpoint.previous_signature:
        raise _stop(kept[0].path, "the first checkpoint names a previous one", checkpoint=0)
    return kept, retention


class _Walk:
    """One chain's lines, in order, held against its checkpoints."""

    def __init__(self, chain_dir: Path, kept: list[_Signed], retention: Retention | None) -> None:
        self.dir = chain_dir
        self.seq, self.prev, self.tree = 0, files.ZERO_HASH, Frontier()
        self.pending = list(kept)
        if retention is not None:  # the chain goes on from the state the kept checkpoint sealed
            start = kept[0].checkpoint
            try:
                self.tree = Frontier(start.tree_size, [bytes.fromhex(h) for h in start.frontier])
            except ValueError:
                raise _stop(kept[0].path, "the checkpoint's frontier is malformed", checkpoint=start.index) from None
            if self.tree.root().hex() != start.root:
                raise _stop(kept[0].path, "the checkpoint's frontier does not give its root", checkpoint=start.index)
            self.seq, self.prev, self.pending = start.tree_size, start.last_line_hash, kept[1:]
        self.first_seq = self.seq
        self.covered: Checkpoint | None = kept[0].checkpoint if retention is not None else None

    def segments(self) -> None:
        present = [(seq, p) for seq, p in files.segments(self.dir) if seq >= self.first_seq]
        for n, (first_seq, path) in enumerate(present):
            if first_seq != self.seq:
                missing = self.dir / files.segment_name(self.seq)
                raise _stop(missing, f"the segment holding lines {self.seq} to {first_seq - 1} is missing")
            self._segment(path, last=n == len(present) - 1)
        if self.pending:
            cp = self.pending[0]
            raise _stop(
                cp.path,
                f"the checkpoint covers {cp.checkpoint.tree_size} lines but the chain has {self.seq}: "
                "lines were removed (the tail cut) before it",
                checkpoint=cp.checkpoint.index,
            )

    def _segment(self, path: Path, last: bool) -> None:
        data = path.read_bytes()
        hasher, hashed = hashlib.sha256(), 0
        end, number = 0, 0
        while (newline := data.find(b"\n", end)) >= 0:
            number += 1
            line = data[end:newline]
            end = newline + 1
            self._line(path, number, line)
            while self.pending and self.pending[0].checkpoint.tree_size == self.seq:
                hasher.update(data[hashed:end])
                hashed = end
                self._checkpoint(self.pending.pop(0), path, end, hasher.hexdigest())
        if end < len(data):
            raise _stop(path, "the last line is incomplete (a crash while writing, or a cut)", line=number + 1)
        covered = self.covered
        if not last and (covered is None or covered.segment.name != path.name or covered.segment.bytes != len(data)):
            raise _stop(path, "a later segment exists but this one is not sealed to its end", line=number)

    def _line(self, path: Path, number: int, line: bytes) -> None:
        tail = files.parse_tail(line)
        if tail is None:
            raise _stop(path, "not an audit line (its end is not prev and seq)", line=number)
        prev, seq = tail
        if seq != self.seq:
            raise _stop(path, f"seq {seq} where {self.seq} should follow: a line removed, inserted or moved", number)
        if prev != self.prev:
            what = "the previous line was edited" if number > 1 else "the previous segment's last line was edited"
            raise _stop(path, f"prev is not the hash of the line before: {what}, or this line's prev", number)
        try:
            orjson.loads(line)
        except orjson.JSONDecodeError:
            raise _stop(path, "the line is not JSON", line=number) from None
        self.prev = files.line_hash(line)
        self.tree.append(leaf_hash(line))
        self.seq += 1

    def _checkpoint(self, signed: _Signed, path: Path, offset: int, prefix_hash: str) -> None:
        cp, where, index = signed.checkpoint, signed.path, signed.checkpoint.index
        if cp.root != self.tree.root().hex() or cp.last_line_hash != self.prev:
            raise _stop(where, "the lines it covers are not the ones it sealed (Merkle root differs)", checkpoint=index)
        mark = cp.segment
        if mark.name != path.name or mark.first_seq != files.segment_seq(path.name) or mark.bytes != offset:
            raise _stop(where, f"it names segment {mark.name} at {mark.bytes} bytes, not {path.name}", checkpoint=index)
        if mark.sha256 != prefix_hash:
            raise _stop(where, f"the SHA-256 of {path.name}'s first {offset} bytes differs", checkpoint=index)
        self.covered = cp


def verify_chain(chain_dir: Path, key: PublicKey) -> ChainSummary:
    """Raises ``_Stop`` at the first problem."""
    signed = _read_signed(chain_dir, key)
    kept, retention = _start(signed, chain_dir)
    walk = _Walk(chain_dir, kept, retention)
    walk.segments()
    last = kept[-1].checkpoint if kept else None
    return ChainSummary(chain_dir.name, walk.first_seq, walk.seq, len(kept), last)


def verify(directory: Path, key: PublicKey) -> Report:
    """Every chain below ``directory``: the first problem, or a summary of each chain."""
    summaries = []
    for chain_dir in files.chains(directory):
        try:
            summaries.append(verify_chain(chain_dir, key))
        except _Stop as stop:
            return Report(stop.problem, summaries)
        except OSError as exc:
            return Report(Problem(chain_dir, f"cannot be read: {exc}"), summaries)
    return Report(None, summaries)
