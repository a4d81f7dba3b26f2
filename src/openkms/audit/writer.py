"""One chain's writer: appends lines to the current segment, seals checkpoints, rotates segments.

Each writer process holds a chain of its own (``<node>-<n>``: the first chain directory whose
lock no other process holds), so requests never wait on a lock shared between processes; a
restarted worker takes a free chain back and continues it from its last checkpoint. A chain whose
files cannot be continued (a damaged tail, a checkpoint that does not verify) is left as it is,
for ``verify`` to report, and the writer takes the next free chain.

Segments are rotated only right after a checkpoint (``sealed: true``), so every checkpoint covers
lines of one segment and every segment but the last is covered to its end. The class is not
thread-safe: ``trail.AuditTrail`` calls it under its lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path

from openkms.audit import files
from openkms.audit.checkpoints import Checkpoint, Retention, SegmentMark, read_checkpoint, write_checkpoint
from openkms.audit.keys import AuditKeys
from openkms.audit.merkle import Frontier, leaf_hash
from openkms.domain.audit import event_time
from openkms.domain.ports import Clock

log = logging.getLogger("openkms.audit")
MAX_CHAINS = 10_000


class ChainBroken(Exception):
    """The chain's files cannot be continued."""


class ChainWriter:
    def __init__(self, chain_dir: Path, keys: AuditKeys, clock: Clock, lock_fd: int) -> None:
        self.dir = chain_dir
        self.chain_id = chain_dir.name
        self._keys = keys
        self._fingerprint = keys.public.fingerprint
        self.clock = clock
        self._lock_fd = lock_fd
        self.seq = 0  # the next line's
        self.prev = files.ZERO_HASH
        self.frontier = Frontier()
        self.sealed_seq = 0  # the last checkpoint's tree size
        self.checkpoint_index = -1
        self.last_signature = ""
        self.unsealed_since: float | None = None
        self.segment_first = 0
        self.segment_bytes = 0
        self.segment_opened = clock.now()
        self._hasher = hashlib.sha256()
        self._fd = -1
        self._resume()

    # --- appending --------------------------------------------------------------------------

    def append(self, event_json: str) -> int:
        """Write one line; returns its seq. On OSError nothing of the line is left in the file."""
        if self._fd < 0:  # a rotation failed to open the next segment: try again
            self._open_segment(self.seq)
        line = files.make_line(event_json, self.prev, self.seq)
        data = line + b"\n"
        offset = self.segment_bytes
        try:
            view = memoryview(data)
            while view:
                view = view[os.pwrite(self._fd, view, offset + len(data) - len(view)) :]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, offset)  # a full disk still lets a file shrink
            raise
        self._hasher.update(data)
        self.segment_bytes += len(data)
        self.prev = files.line_hash(line)
        self.frontier.append(leaf_hash(line))
        self.seq += 1
        if self.unsealed_since is None:
            self.unsealed_since = self.clock.now()
        return self.seq - 1

    def sync_handle(self) -> tuple[int, int]:
        """(a duplicate of the segment's descriptor, lines written so far): fsync it outside the
        trail's lock, then close it."""
        return os.dup(self._fd), self.seq

    # --- sealing ----------------------------------------------------------------------------

    def checkpoint_due(self, every_events: int, every_seconds: float) -> bool:
        if self.unsealed_since is None:
            return False
        return self.seq - self.sealed_seq >= every_events or self.clock.now() - self.unsealed_since >= every_seconds

    def rotation_due(self, max_bytes: int, max_seconds: float) -> bool:
        if self.segment_bytes == 0:
            return False
        return self.segment_bytes >= max_bytes or self.clock.now() - self.segment_opened >= max_seconds

    def seal(self, final: bool = False, retention: Retention | None = None) -> Checkpoint | None:
        """Sign a checkpoint of everything written; None when there is nothing new to seal."""
        if self.seq == self.sealed_seq and not final and retention is None:
            return None
        if self.segment_bytes == 0:
            return None
        os.fsync(self._fd)  # the lines are durable before a checkpoint vouches for them
        mark = SegmentMark(
            files.segment_name(self.segment_first),
            self.segment_first,
            self.segment_bytes,
            self._hasher.hexdigest(),
            final,
        )
        checkpoint = Checkpoint(
            chain=self.chain_id,
            index=self.checkpoint_index + 1,
            tree_size=self.seq,
            root=self.frontier.root().hex(),
            frontier=tuple(h.hex() for h in self.frontier.hashes),
            last_line_hash=self.prev,
            segment=mark,
            time=event_time(self.clock.now()),
            previous_signature=self.last_signature,
            key_fingerprint=self._fingerprint,
            retention=retention,
        )
        signature = write_checkpoint(self.dir, checkpoint, self._keys)
        self.checkpoint_index = checkpoint.index
        self.last_signature = signature.hex()
        self.sealed_seq = self.seq
        self.unsealed_since = None
        return checkpoint

    def rotate(self) -> None:
        """Seal the current segment and start the next one."""
        if self.segment_bytes == 0:
            return
        self.seal(final=True)
        os.close(self._fd)
        self._fd = -1
        self.segment_first, self.segment_bytes = self.seq, 0
        self._open_segment(self.seq)

    def close(self) -> None:
        """Seal what is unsealed, close the segment and give the chain up."""
        try:
            if self._fd >= 0:
                self.seal()
        finally:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            os.close(self._lock_fd)  # releases the flock

    # --- starting ---------------------------------------------------------------------------

    def _open_segment(self, first_seq: int) -> None:
        path = self.dir / files.segment_name(first_seq)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        files.fsync_dir(self.dir)
        self.segment_first = first_seq
        self.segment_bytes = 0
        self.segment_opened = self.clock.now()
        self._hasher = hashlib.sha256()

    def _resume(self) -> None:
        """Take the chain up where its files end: the last checkpoint, then the lines after it."""
        found = files.checkpoint_files(self.dir)
        prefix, prefix_hash = self._from_checkpoint(found[-1][1]) if found else (0, hashlib.sha256().hexdigest())
        later = [seq for seq, _ in files.segments(self.dir) if seq > self.segment_first]
        if later:
            raise ChainBroken(f"there are segments after the one its last checkpoint names: {later}")
        self._open_segment(self.segment_first)
        try:
            data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
            if len(data) < prefix or hashlib.sha256(data[:prefix]).hexdigest() != prefix_hash:
                raise ChainBroken("its last segment differs from what its last checkpoint says")
            self._replay(data, prefix)
        except BaseException:
            os.close(self._fd)
            raise

    def _from_checkpoint(self, path: Path) -> tuple[int, str]:
        """The state its last checkpoint gives; returns (bytes, sha256) of the covered part of the
        current segment."""
        try:
            checkpoint, data, signature = read_checkpoint(path)
            frontier = Frontier(checkpoint.tree_size, [bytes.fromhex(h) for h in checkpoint.frontier])
        except (OSError, ValueError) as exc:
            raise ChainBroken(f"its last checkpoint cannot be read: {exc}") from None
        if (
            not self._keys.public.verifies(signature, data)
            or checkpoint.chain != self.chain_id
            or frontier.root().hex() != checkpoint.root
        ):
            raise ChainBroken(f"its last checkpoint {path.name} does not verify")
        self.seq = self.sealed_seq = checkpoint.tree_size
        self.prev = checkpoint.last_line_hash
        self.frontier = frontier
        self.checkpoint_index = checkpoint.index
        self.last_signature = signature.hex()
        if checkpoint.segment.sealed:
            self.segment_first = checkpoint.tree_size
            return 0, hashlib.sha256().hexdigest()
        self.segment_first = checkpoint.segment.first_seq
        return checkpoint.segment.bytes, checkpoint.segment.sha256

    def _replay(self, data: bytes, start: int) -> None:
        end = start
        while (newline := data.find(b"\n", end)) >= 0:
            line = data[end:newline]
            if files.parse_tail(line) != (self.prev, self.seq):
                raise ChainBroken(f"line {self.seq} does not follow the chain")
            self.prev = files.line_hash(line)
            self.frontier.append(leaf_hash(line))
            self.seq += 1
            end = newline + 1
        if end < len(data):
            log.warning(
                "audit chain %s: removed an incomplete last line (%d bytes) left by a crash while writing",
                self.chain_id,
                len(data) - end,
            )
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        self._hasher = hashlib.sha256(data[:end])
        self.segment_bytes = end
        if self.seq > self.sealed_seq:
            self.unsealed_since = self.clock.now()


def _try_lock(chain_dir: Path) -> int | None:
    chain_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(chain_dir / files.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def open_chain(directory: Path, node: str, keys: AuditKeys, clock: Clock) -> ChainWriter:
    """The first free chain of ``node`` below ``directory``, taken up where it ends."""
    for n in range(MAX_CHAINS):
        chain_dir = directory / f"{node}-{n}"
        lock_fd = _try_lock(chain_dir)
        if lock_fd is None:
            continue
        try:
            return ChainWriter(chain_dir, keys, clock, lock_fd)
        except ChainBroken as exc:
            log.error("audit chain %s cannot be continued (%s): left for `openkms audit verify`", chain_dir.name, exc)
            os.close(lock_fd)
    raise OSError(f"no free audit chain below {directory}")
