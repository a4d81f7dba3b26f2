"""Reading the trail: the ``AuditReader`` port over every chain and segment of an audit directory.

Each chain is read on its own, newest line first (or oldest first), segment by segment, in blocks
from the end of the file; the chains are merged by eventTime. Within a chain the order is the order
the lines were written, so a page boundary is exact: the cursor holds, per chain, the line where
the next page starts (its seq, its segment and its byte offset), and a page never repeats or skips
an event, however many are written meanwhile (those are newer than the first page: a search shows
the trail as it stood when its first page was read).

What makes a search over a large trail cheap:

- A line is parsed only if its raw bytes hold the query's ``needles`` (the wanted values as JSON
  text) and its eventTime (read at a fixed place in the line) is in the window.
- Whole segments are skipped by time. A segment's lines were written between its first line and
  the next segment's first line, and an event is written within ``SLACK`` seconds of its eventTime
  (the time its request began), so the eventTimes of segment i lie in
  ``[first(i) - SLACK, first(i+1) + SLACK]``, where first(i) is the eventTime of its first line,
  read once per segment and remembered (a segment's first line never changes). Reading newest
  first, a line older than ``since - SLACK`` ends the chain: every line written before it is older
  than ``since``.

A line that is not an event (a damaged file) is passed over: telling damage is ``verify``'s work.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from openkms.audit import files
from openkms.domain import errors
from openkms.domain.audit import event_time
from openkms.domain.audit_query import AuditPage, AuditQuery, parse_utc

# Longer than a request may take from its start (its eventTime) to its event being written.
SLACK = 900.0
BLOCK = 1 << 20
_TIME = b'"eventTime":"'
_TIME_WIDTH = 20  # event_time's form: 2026-12-01T08:30:00Z
_SEQ = b',"seq":'
_FIRST_LINE_PEEK = 64 * 1024
_CACHE_LIMIT = 100_000
_CURSOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class _Position:
    """A line of a chain: its seq, its segment (by first seq), and its byte offset there (reading
    newest first: where the line ends, after its newline; oldest first: where it starts)."""

    seq: int
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class _Hit:
    time: str
    chain: str
    seq: int
    at: _Position
    event: dict[str, Any]

    @property
    def order(self) -> tuple[str, str, int]:
        return self.time, self.chain, self.seq


class _Plan:
    """A query as the scan uses it: bytes to compare lines with, and the window widened by SLACK."""

    def __init__(self, query: AuditQuery) -> None:
        self.query = query
        self.backward = not query.oldest_first
        self.since = query.since.encode()
        self.until = query.until.encode()
        self.since_slack = _shift(query.since, -SLACK)
        self.until_slack = _shift(query.until, SLACK)
        self.needles = tuple(n.encode() for n in query.needles())
        self.bounded = bool(self.since or self.until)

    def segment(self, first: bytes | None, next_first: bytes | None) -> str:
        """ "read", "skip" (this segment cannot hold a match) or "stop" (nor can any segment
        after it in reading order), from the first eventTimes of the segment and the next one."""
        too_new = first is not None and bool(self.until_slack) and first > self.until_slack
        too_old = next_first is not None and bool(self.since_slack) and next_first < self.since_slack
        if self.backward:
            return "stop" if too_old else "skip" if too_new else "read"
        return "stop" if too_new else "skip" if too_old else "read"

    def past(self, when: bytes) -> bool:
        """Whether a line of this time ends the chain in reading order."""
        if self.backward:
            return bool(self.since_slack) and when < self.since_slack
        return bool(self.until_slack) and when > self.until_slack


def _shift(when: str, seconds: float) -> bytes:
    at = parse_utc(when) if when else None
    return b"" if at is None else event_time(at + seconds).encode()


class TrailReader:
    """The ``AuditReader`` over ``directory`` (the trail's: chains below it)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._first_times: dict[str, bytes] = {}

    def search(self, query: AuditQuery) -> AuditPage:
        try:
            return self._search(query)
        except OSError as exc:
            raise errors.BackendUnavailable(f"The audit trail cannot be read: {exc.strerror or exc}.") from None

    def _search(self, query: AuditQuery) -> AuditPage:
        plan = _Plan(query)
        positions = _decode(query.cursor, plan.backward)
        streams: dict[str, Iterator[_Hit]] = {}
        for chain_dir in files.chains(self.directory):
            if positions is not None and chain_dir.name not in positions:
                continue  # exhausted on an earlier page, or begun after the first
            start = positions.get(chain_dir.name) if positions is not None else None
            streams[chain_dir.name] = self._chain(chain_dir, plan, start)
        heads = {name: hit for name, stream in streams.items() if (hit := next(stream, None)) is not None}
        events: list[dict[str, Any]] = []
        pick = max if plan.backward else min
        while heads and (query.limit <= 0 or len(events) < query.limit):
            best = pick(heads.values(), key=lambda h: h.order)
            events.append(best.event)
            following = next(streams[best.chain], None)
            if following is None:
                del heads[best.chain]
            else:
                heads[best.chain] = following
        cursor = _encode({name: hit.at for name, hit in heads.items()}, plan.backward) if heads else ""
        return AuditPage(tuple(events), cursor)

    # --- one chain --------------------------------------------------------------------------

    def _chain(self, chain_dir: Path, plan: _Plan, start: _Position | None) -> Iterator[_Hit]:
        segments = files.segments(chain_dir)
        firsts = [self._first_time(path) for _, path in segments] if plan.bounded else None
        order = range(len(segments) - 1, -1, -1) if plan.backward else range(len(segments))
        for i in order:
            first_seq, path = segments[i]
            if start is not None and _before_start(segments, i, start, plan.backward):
                continue
            if firsts is not None:
                verdict = plan.segment(firsts[i], firsts[i + 1] if i + 1 < len(firsts) else None)
                if verdict == "stop":
                    return
                if verdict == "skip":
                    continue
            resume = start if start is not None and start.segment == first_seq else None
            try:
                ended = yield from self._segment(path, chain_dir.name, first_seq, plan, resume)
            except FileNotFoundError:
                continue  # deleted by retention since it was listed
            if ended:
                return

    def _segment(
        self, path: Path, chain: str, first_seq: int, plan: _Plan, start: _Position | None
    ) -> Generator[_Hit, None, bool]:
        """The segment's matching lines in reading order; returns True when a line's time ended
        the chain."""
        with path.open("rb") as f:
            if plan.backward:
                end = start.offset if start is not None else os.fstat(f.fileno()).st_size
                blocks = _blocks_backward(f, end)
            else:
                blocks = _blocks_forward(f, start.offset if start is not None else 0)
            for data, lo, hi, base in blocks:
                lines = _candidates(data, lo, hi, base, plan.needles[0] if plan.needles else None)
                for line, line_start in reversed(lines) if plan.backward else lines:
                    when = _time_of(line)
                    if when is None or (plan.since and when < plan.since) or (plan.until and when > plan.until):
                        continue
                    if not all(needle in line for needle in plan.needles[1:]):
                        continue
                    offset = line_start + len(line) + 1 if plan.backward else line_start
                    hit = _hit(line, when, chain, first_seq, offset, plan, start)
                    if hit is not None:
                        yield hit
                # The block's last line in reading order: past it, nothing later can match.
                if plan.past(_edge_time(data, lo, hi, plan.backward)):
                    return True
        return False

    def _first_time(self, path: Path) -> bytes | None:
        """The eventTime of the segment's first line (None: no line yet, or not readable)."""
        key = str(path)
        found = self._first_times.get(key)
        if found is not None:
            return found
        try:
            with path.open("rb") as f:
                head = f.read(_FIRST_LINE_PEEK)
        except OSError:
            return None
        line = head[: head.find(b"\n")] if b"\n" in head else b""
        at = line.find(_TIME)
        if at < 0:
            return None
        found = line[at + len(_TIME) : at + len(_TIME) + _TIME_WIDTH]
        if len(self._first_times) >= _CACHE_LIMIT:
            self._first_times.clear()
        self._first_times[key] = found
        return found


def _before_start(segments: list[tuple[int, Path]], i: int, start: _Position, backward: bool) -> bool:
    """Whether segment i lies wholly on the already-read side of ``start``."""
    if backward:
        return segments[i][0] > start.seq
    return i + 1 < len(segments) and segments[i + 1][0] <= start.seq


def _hit(
    line: bytes, when: bytes, chain: str, first_seq: int, offset: int, plan: _Plan, start: _Position | None
) -> _Hit | None:
    at = line.rfind(_SEQ)
    try:
        seq = int(line[at + len(_SEQ) : -1])
        event = orjson.loads(line)["event"]
    except (ValueError, KeyError, TypeError):
        return None
    if start is not None and (seq > start.seq if plan.backward else seq < start.seq):
        return None  # read on an earlier page
    if not isinstance(event, dict) or not plan.query.matches(event):
        return None
    return _Hit(when.decode(), chain, seq, _Position(seq, first_seq, offset), event)


# --- reading lines ------------------------------------------------------------------------------


def _time_of(line: bytes) -> bytes | None:
    at = line.find(_TIME)
    return None if at < 0 else line[at + len(_TIME) : at + len(_TIME) + _TIME_WIDTH]


def _edge_time(data: bytes, lo: int, hi: int, first: bool) -> bytes:
    """The eventTime of the first (or last) line of ``data[lo:hi]``; b"" when it has none."""
    start = lo if first else max(lo, data.rfind(b"\n", lo, hi - 1) + 1)
    line = data[start : data.find(b"\n", start, hi)]
    return _time_of(line) or b""


def _candidates(data: bytes, lo: int, hi: int, base: int, needle: bytes | None) -> list[tuple[bytes, int]]:
    """The lines of ``data[lo:hi]`` (whole lines, each ended by a newline; ``data`` starts at
    ``base`` in the file) that contain ``needle`` (all of them for None), in file order, with
    their offsets. Finding the needle in the block before splitting it into lines is what keeps
    a search for a rare value near the speed of reading the file."""
    found: list[tuple[bytes, int]] = []
    at = lo
    while at < hi:
        if needle is not None:
            at = data.find(needle, at, hi)
            if at < 0:
                break
            at = max(lo, data.rfind(b"\n", lo, at) + 1)
        stop = data.find(b"\n", at, hi)
        found.append((data[at:stop], base + at))
        at = stop + 1
    return found


def _read(f: BinaryIO, lo: int, hi: int) -> bytes:
    f.seek(lo)
    return f.read(hi - lo)


def _blocks_backward(f: BinaryIO, end: int) -> Iterator[tuple[bytes, int, int, int]]:
    """The file before ``end`` in blocks of whole lines, last block first: (data, lo, hi, base),
    the lines being ``data[lo:hi]`` and ``data`` starting at ``base`` in the file. Bytes after the
    last newline (a line being written) are left out. A block's first piece may begin mid-line:
    it is read again as the end of the next block rather than carried over (one copy less)."""
    hi = end
    trimmed = False
    while hi > 0:
        size = BLOCK
        while True:
            base = max(0, hi - size)
            data = _read(f, base, hi)
            stop = data.rfind(b"\n") + 1 if not trimmed else len(data)
            lo = data.find(b"\n", 0, stop) + 1 if base > 0 else 0
            if base == 0 or 0 < lo < stop:
                break
            size *= 2  # a line longer than the block
        if stop > lo:
            trimmed = True
            yield data, lo, stop, base
        hi = base + lo


def _blocks_forward(f: BinaryIO, start: int) -> Iterator[tuple[bytes, int, int, int]]:
    """The file from ``start`` in blocks of whole lines, as ``_blocks_backward`` yields them; a
    line not yet ended by a newline is left out."""
    base = start
    while True:
        size = BLOCK
        while True:
            data = _read(f, base, base + size)
            stop = data.rfind(b"\n") + 1
            if stop or len(data) < size:
                break
            size *= 2  # a line longer than the block
        if not stop:
            return
        yield data, 0, stop, base
        base += stop


# --- the cursor ---------------------------------------------------------------------------------


def _encode(positions: dict[str, _Position], backward: bool) -> str:
    doc = {
        "v": _CURSOR_VERSION,
        "d": "b" if backward else "f",
        "c": {name: [p.seq, p.segment, p.offset] for name, p in sorted(positions.items())},
    }
    text = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _decode(cursor: str, backward: bool) -> dict[str, _Position] | None:
    if not cursor:
        return None
    invalid = errors.InvalidLookupParameter("NextToken", "It is not a token this trail issued for this direction.")
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if doc["v"] != _CURSOR_VERSION or doc["d"] != ("b" if backward else "f"):
            raise invalid
        positions = {str(name): _Position(*(int(n) for n in place)) for name, place in doc["c"].items()}
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise invalid from None
    if any(min(p.seq, p.segment, p.offset) < 0 for p in positions.values()):
        raise invalid
    return positions
