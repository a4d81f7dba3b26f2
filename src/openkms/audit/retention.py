"""Retention: a chain's sealed segments older than N days are deleted, on the record.

A run first writes an event (``DeleteAuditSegments``, an AliyunServiceEvent naming the segments
and their SHA-256) and seals a checkpoint whose ``retention`` names the oldest checkpoint kept
(with its signature) and the first line kept; only then are the segments, and the checkpoints
older than the one kept, deleted. ``verify`` starts each chain at the checkpoint the newest
signed retention names, so a segment deleted by retention is told from one deleted by hand: the
latter is named by a checkpoint that no signed retention retired. Runs when the writer starts and
whenever it seals a segment; the current segment is never deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from pathlib import Path

from openkms.audit import files
from openkms.audit.checkpoints import Checkpoint, Retention, read_checkpoint, signature_path
from openkms.audit.writer import ChainWriter
from openkms.domain.audit import KMS_SOURCE, AuditEvent, EventRW, EventType, UserIdentity, event_time

DAY = 86_400
EVENT_NAME = "DeleteAuditSegments"


def _expired(writer: ChainWriter, cutoff: float) -> list[tuple[int, Path]]:
    """The oldest run of sealed segments last written before ``cutoff``."""
    out = []
    for first_seq, path in files.segments(writer.dir):
        if first_seq >= writer.segment_first or path.stat().st_mtime >= cutoff:
            break
        out.append((first_seq, path))
    return out


def _kept_checkpoint(writer: ChainWriter, first_kept: int) -> tuple[Checkpoint, bytes] | None:
    """The checkpoint that sealed the segment before ``first_kept``: where the chain will start."""
    for _, path in reversed(files.checkpoint_files(writer.dir)):
        checkpoint, _, signature = read_checkpoint(path)
        if checkpoint.tree_size == first_kept and checkpoint.segment.sealed:
            return checkpoint, signature
        if checkpoint.tree_size < first_kept:
            return None
    return None


def _event(writer: ChainWriter, now: float, start: Checkpoint, deleted: list[tuple[str, str]]) -> AuditEvent:
    event_id = str(uuid.uuid4())
    return AuditEvent(
        event_id=event_id,
        event_name=EVENT_NAME,
        event_source=KMS_SOURCE,
        event_type=EventType.SERVICE_EVENT,
        event_rw=EventRW.WRITE,
        event_time=event_time(now),
        acs_region="",
        request_id=event_id,
        api_version="",
        user_identity=UserIdentity("system"),
        request_parameters={
            "Chain": writer.chain_id,
            "FirstCheckpoint": start.index,
            "FirstSeq": start.tree_size,
            "Segments": [{"Name": n, "Sha256": h} for n, h in deleted],
        },
    )


def apply_retention(writer: ChainWriter, days: float) -> list[str]:
    """Delete the chain's sealed segments older than ``days`` (0: keep all); returns their names.
    Raises OSError when the record cannot be written (then nothing is deleted)."""
    if days <= 0:
        return []
    now = writer.clock.now()
    expired = _expired(writer, now - days * DAY)
    if not expired:
        return []
    first_kept = next((seq for seq, _ in files.segments(writer.dir) if seq > expired[-1][0]), writer.segment_first)
    kept = _kept_checkpoint(writer, first_kept)
    if kept is None:
        return []
    start, start_signature = kept
    deleted = [(path.name, hashlib.sha256(path.read_bytes()).hexdigest()) for _, path in expired]
    writer.append(_event(writer, now, start, deleted).to_json())
    writer.seal(retention=Retention(start.index, start_signature.hex(), start.tree_size, tuple(deleted)))
    for _, path in expired:
        path.unlink()
    for index, path in files.checkpoint_files(writer.dir):
        if index < start.index:
            with contextlib.suppress(FileNotFoundError):
                signature_path(path).unlink()
            path.unlink()
    files.fsync_dir(writer.dir)
    return [name for name, _ in deleted]
