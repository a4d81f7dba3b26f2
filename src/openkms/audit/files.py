"""The trail on disk: where each file is, what one line is, and writing a small file atomically.

    <audit directory>/
      public-key.pem                      the key that verifies every checkpoint (a convenience copy)
      <chain>/                            one chain per writer: "<node>-<n>", held by one process at a time
        .lock                             the writer's lock (flock), held while it runs
        00000000000000000000.jsonl        a segment, named by the seq of its first line (20 digits)
        checkpoints/000000000000.json     a checkpoint, named by its number (12 digits) ...
        checkpoints/000000000000.sig      ... and its detached Ed25519 signature (64 raw bytes)

A line is ``{"event":<event JSON>,"prev":"<64 hex>","seq":<n>}`` and a newline: the event as
``AuditEvent.to_json`` wrote it, ``seq`` counting the chain's lines from 0, and ``prev`` the hex
SHA-256 of the previous line's bytes (without its newline; for the chain's first line 64 zeros).
The keys are in sorted order, so a line is canonical JSON too.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path

ZERO_HASH = "0" * 64
SEGMENT_SUFFIX = ".jsonl"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
PUBLIC_KEY_FILE = "public-key.pem"
_TAIL = re.compile(rb',"prev":"([0-9a-f]{64})","seq":(0|[1-9][0-9]{0,19})\}\Z')
_SEGMENT = re.compile(r"([0-9]{20})\.jsonl")
_CHECKPOINT = re.compile(r"([0-9]{12})\.json")


def make_line(event_json: str, prev: str, seq: int) -> bytes:
    """The line's bytes, without its newline."""
    return f'{{"event":{event_json},"prev":"{prev}","seq":{seq}}}'.encode()


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def parse_tail(line: bytes) -> tuple[str, int] | None:
    """(prev, seq) of a line, None if it does not end as a line does."""
    m = _TAIL.match(line, max(line.rfind(b',"prev":"'), 0))
    if m is None or not line.startswith(b'{"event":{'):
        return None
    return m.group(1).decode(), int(m.group(2))


def segment_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SEGMENT_SUFFIX}"


def segment_seq(name: str) -> int | None:
    m = _SEGMENT.fullmatch(name)
    return int(m.group(1)) if m else None


def checkpoint_name(index: int) -> str:
    return f"{index:012d}.json"


def checkpoint_index(name: str) -> int | None:
    m = _CHECKPOINT.fullmatch(name)
    return int(m.group(1)) if m else None


def segments(chain_dir: Path) -> list[tuple[int, Path]]:
    """The chain's segments, (first seq, path), in order."""
    found = [(seq, p) for p in chain_dir.iterdir() if (seq := segment_seq(p.name)) is not None]
    return sorted(found)


def checkpoint_files(chain_dir: Path) -> list[tuple[int, Path]]:
    """The chain's checkpoint documents, (number, path of the .json), in order."""
    where = chain_dir / CHECKPOINTS
    if not where.is_dir():
        return []
    return sorted((i, p) for p in where.iterdir() if (i := checkpoint_index(p.name)) is not None)


def chains(directory: Path) -> list[Path]:
    """Every chain directory below ``directory``, by name."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` entirely or not at all, durably (a temporary file, fsync, rename).
    A failure (a full disk) leaves no temporary file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
