"""The audit trail: the ``AuditSink`` port over one chain per process (``writer.py``).

Modes:

- ``fail-closed``: a request is *admitted* first (``admit``, before anything is done) and its
  event recorded after; ``record`` returns once the event's line is written and fsynced.
  Concurrent callers share fsyncs (group commit): each waits until an fsync that began after its
  line was written has finished. So that an admitted request's event always has room, the chain
  holds a reserve (``.reserve`` in its directory, ``RESERVE_BYTES`` of written blocks): when a line
  does not fit, the reserve is given back to the file system and the line written in its place,
  and from then on ``admit`` refuses (``AuditUnavailable``) until the reserve can be made again.
  A line that still cannot be written is taken back from the file (a full disk still lets a file
  shrink) and ``record`` raises ``AuditUnavailable``: nothing half-written is left.
- ``best-effort``: ``record`` writes the line (to the operating system: a crash of the process
  loses nothing, a crash of the machine may lose what the last checkpoint did not seal) and never
  raises; an event that cannot be written is dropped, counted in ``failures`` and logged, once
  per run of failures, with the count when writing works again.

Checkpoints are sealed by the call that brings the unsealed events to ``checkpoint_events``, and
by a timer thread ``checkpoint_seconds`` after the oldest unsealed event, so a quiet trail is
sealed within that time too; ``close`` seals the rest. The chain and the thread are taken at the
first event, so a process that records nothing leaves nothing on disk.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from openkms.audit import files
from openkms.audit.keys import AuditKeys, PublicKey
from openkms.audit.retention import apply_retention
from openkms.audit.writer import ChainWriter, open_chain
from openkms.domain import errors
from openkms.domain.audit import AuditEvent
from openkms.domain.ports import Clock

log = logging.getLogger("openkms.audit")
FAIL_CLOSED = "fail-closed"
BEST_EFFORT = "best-effort"
OFF = "off"  # no trail at all: for benchmarks and throwaway test servers; refused with production = true
MODES = (BEST_EFFORT, FAIL_CLOSED, OFF)
RESERVE_FILE = ".reserve"
# Room for the events of the requests one process can have admitted at once (about 1 KiB each;
# a worker runs at most a few dozen requests in parallel), with a wide margin.
RESERVE_BYTES = 256 * 1024


def node_name() -> str:
    """This machine's name as a chain name starts with it."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()).lower() or "node"


@dataclass(frozen=True)
class AuditConfig:
    directory: Path
    mode: str = BEST_EFFORT
    checkpoint_events: int = 1000
    checkpoint_seconds: float = 60.0
    segment_bytes: int = 64 * 1024 * 1024
    segment_seconds: float = 86_400.0
    retention_days: float = 0.0
    node: str = ""

    @property
    def fail_closed(self) -> bool:
        return self.mode == FAIL_CLOSED


class AuditTrail:
    def __init__(self, config: AuditConfig, keys: AuditKeys, clock: Clock) -> None:
        self.config = config
        self._keys = keys
        self._clock = clock
        self._lock = threading.Lock()  # the chain's state
        self._sync_lock = threading.Lock()  # one fsync at a time; the others wait for it
        self._synced = 0  # lines known durable
        self._writer: ChainWriter | None = None
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._closed = False
        self.failures = 0  # events that could not be written (best-effort: dropped)
        self.on_failure: Callable[[], None] | None = None  # told of each (the metrics' counter)
        self.seal_failures = 0
        self._seal_failing = False
        self._failing = False
        self._reserve_held = False
        self._retry_reserve_at = 0.0

    @property
    def public_key(self) -> PublicKey:
        return self._keys.public

    @property
    def chain_id(self) -> str | None:
        return self._writer.chain_id if self._writer else None

    def admit(self) -> None:
        """Fail-closed: raise ``AuditUnavailable`` unless the event of a request begun now is
        sure to be written (the chain is open and its reserve is in place). Best-effort: a no-op."""
        if not self.config.fail_closed:
            return
        made = False
        try:
            with self._lock:
                if self._closed:
                    raise OSError("the audit trail is closed")
                writer = self._writer or self._start()
                if not self._reserve_held:
                    if self._clock.now() < self._retry_reserve_at:
                        raise OSError(errno.ENOSPC, "no room for the audit reserve")
                    self._make_reserve(writer)
                    made = True
        except OSError as exc:
            self._failed(exc)
        if made and self._failing:
            self._recovered()

    def keyed_hash(self, value: bytes) -> str:
        return self._keys.keyed_hash(value)

    def record(self, event: AuditEvent) -> None:
        text = canonical_json(event)
        try:
            with self._lock:
                if self._closed:
                    raise OSError("the audit trail is closed")
                writer = self._writer or self._start()
                self._housekeeping(writer, seal=False)
                seq = self._append(writer, text)
                self._housekeeping(writer, rotate=False)
            if self.config.fail_closed:
                self._sync(seq)
        except OSError as exc:
            self._failed(exc)
            return
        if self._failing and not self.config.fail_closed:  # fail-closed recovers when its reserve is back
            self._recovered()

    def tick(self) -> None:
        """Seal and rotate what is due (the timer thread calls it)."""
        with self._lock:
            if self._writer is not None and not self._closed:
                self._housekeeping(self._writer)

    def close(self) -> None:
        self._stop.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._writer is not None:
                try:
                    self._writer.close()
                except OSError as exc:
                    log.error("audit chain %s: the last checkpoint could not be sealed: %s", self.chain_id, exc)

    # --- inside -----------------------------------------------------------------------------

    def _append(self, writer: ChainWriter, text: str) -> int:
        try:
            return writer.append(text)
        except OSError as exc:
            if not self._reserve_held or exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
        # The disk is full: the reserve makes room for this line (and those of requests already
        # admitted); admit refuses new requests until it can be made again.
        self._reserve_held = False
        (writer.dir / RESERVE_FILE).unlink(missing_ok=True)
        log.error("audit chain %s: the disk is full; the reserve was used, new requests are refused", writer.chain_id)
        return writer.append(text)

    def _make_reserve(self, writer: ChainWriter) -> None:
        path = writer.dir / RESERVE_FILE
        try:
            # Room for the reserve and as much again: a reserve made of the very space the last
            # one gave back would be used up by the next event, and no request would be refused.
            room = os.statvfs(writer.dir)
            if room.f_bavail * room.f_frsize < 2 * RESERVE_BYTES:
                raise OSError(errno.ENOSPC, "no room for the audit reserve")
            with path.open("wb") as fh:
                fh.write(b"\0" * RESERVE_BYTES)  # written blocks, not a sparse file: the space is taken
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            path.unlink(missing_ok=True)
            self._retry_reserve_at = self._clock.now() + 1.0  # not a 256 KiB write per refused request
            raise
        self._reserve_held = True

    def _start(self) -> ChainWriter:
        self.config.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        writer = open_chain(self.config.directory, self.config.node or node_name(), self._keys, self._clock)
        self._writer = writer
        self._synced = writer.seq
        log.info("audit chain %s: writing from line %d", writer.chain_id, writer.seq)
        self._timer = threading.Thread(target=self._run, name=f"audit-{writer.chain_id}", daemon=True)
        self._timer.start()
        self._retain(writer)
        return writer

    def _run(self) -> None:
        interval = min(1.0, self.config.checkpoint_seconds / 10, self.config.segment_seconds / 10)
        while not self._stop.wait(max(interval, 0.01)):
            self.tick()

    def _housekeeping(self, writer: ChainWriter, rotate: bool = True, seal: bool = True) -> None:
        """Rotate the segment (before an event) or seal a checkpoint (after one) when due. A
        failure here loses no event: it is logged and tried again at the next event or tick."""
        c = self.config
        try:
            if rotate and writer.rotation_due(c.segment_bytes, c.segment_seconds):
                writer.rotate()
                self._retain(writer)
            if seal and writer.checkpoint_due(c.checkpoint_events, c.checkpoint_seconds):
                writer.seal()
        except OSError as exc:
            self.seal_failures += 1
            if not self._seal_failing:
                log.error("audit chain %s: cannot seal a checkpoint (tried again later): %s", writer.chain_id, exc)
            self._seal_failing = True
        else:
            self._seal_failing = False

    def _retain(self, writer: ChainWriter) -> None:
        try:
            deleted = apply_retention(writer, self.config.retention_days)
        except (OSError, ValueError) as exc:
            log.error("audit chain %s: retention failed, nothing deleted: %s", writer.chain_id, exc)
            return
        if deleted:
            log.info("audit chain %s: retention deleted %d segments", writer.chain_id, len(deleted))

    def _sync(self, seq: int) -> None:
        with self._sync_lock:
            if self._synced > seq:
                return  # an fsync that began after this line was written has finished
            with self._lock:
                assert self._writer is not None
                fd, upto = self._writer.sync_handle()
            try:
                os.fdatasync(fd)  # the data and the file's size; not its times
            finally:
                os.close(fd)
            self._synced = upto

    def _failed(self, exc: OSError) -> None:
        with self._lock:
            self.failures += 1
            first = not self._failing
            self._failing = True
        if self.on_failure is not None:
            self.on_failure()
        reason = exc.strerror or str(exc)
        if first:
            what = "requests are refused" if self.config.fail_closed else "events are dropped and counted"
            log.error("audit trail cannot be written (%s): %s until it can", reason, what)
        if self.config.fail_closed:
            raise errors.AuditUnavailable(reason) from None

    def _recovered(self) -> None:
        with self._lock:
            if not self._failing:
                return
            self._failing = False
            count = self.failures
        log.warning("audit trail writes again; %d events failed so far", count)


def canonical_json(event: AuditEvent) -> str:
    """``event.to_json()``, made by orjson (a fifth of the time: the event is serialized on every
    request); ``tests/unit/audit/test_trail_json.py`` checks that the two agree."""
    try:
        return orjson.dumps(event.as_dict(), option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # a lone surrogate, which orjson refuses: the domain's form escapes it
        return event.to_json()


def open_trail(config: AuditConfig, keys: AuditKeys, clock: Clock) -> AuditTrail:
    """The trail for this process, with the public key written beside the chains."""
    with contextlib.suppress(OSError):  # the copy is a convenience; a read-only directory fails at the first event
        config.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = config.directory / files.PUBLIC_KEY_FILE
        pem = keys.public.pem
        if not path.exists() or path.read_bytes() != pem:
            files.write_atomically(path, pem)
    return AuditTrail(config, keys, clock)


class NoTrail:
    """``[audit] mode = "off"``: nothing is recorded (benchmarks, throwaway test servers)."""

    failures = 0

    def admit(self) -> None:
        return None

    def keyed_hash(self, value: bytes) -> str:
        return ""

    def record(self, event: AuditEvent) -> None:
        return None

    def close(self) -> None:
        return None
