"""The real clock and id generator (tests inject their own)."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
import uuid
from pathlib import Path

from openkms.domain.ports import Store


class SystemClock:
    def now(self) -> float:
        return time.time()


class UuidGenerator:
    def new_id(self) -> str:
        return str(uuid.uuid4())


class DeterministicIds:
    """``--deterministic SEED`` (dev mode): the n-th id since the start or the last reset is a
    UUID made from HMAC-SHA256(SEED, n), so the same calls give the same ids on every run."""

    def __init__(self, seed: str) -> None:
        self._key = hashlib.sha256(b"openkms/deterministic-ids/v1:" + seed.encode()).digest()
        self._next = 0
        self._lock = threading.Lock()

    def new_id(self) -> str:
        with self._lock:
            n, self._next = self._next, self._next + 1
        digest = hmac.new(self._key, n.to_bytes(8, "big"), hashlib.sha256).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def restart(self) -> None:
        with self._lock:
            self._next = 0


class ManualClock:
    """A clock that only moves when told to: for tests and for driving time in a test server."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when


class OffsetClock:
    """Real time plus an adjustable offset: time flows, and a test server can jump ahead."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    @property
    def offset(self) -> float:
        return self._offset

    def reset(self, offset: float = 0.0) -> None:
        with self._lock:
            self._offset = offset

    def refresh(self) -> None:
        """Nothing to read again: this offset is the process's own."""


CLOCK_OFFSET = "test-clock-offset"  # the node value that holds a test server's clock offset
FAULT_RULES = "test-fault-rules"  # and the one that holds its fault rules (JSON)
STORE_REREAD_SECONDS = 1.0  # another node's change (same database, other data directory) shows within this


class SharedValue:
    """A node value that changes, read by every worker of a node (and every node of one database).

    ``get`` is called once per request. Reading the store costs about 130 us on SQLite, as much
    as an Encrypt; a stat of a marker file in the data directory costs about 2 us. So the store
    is read again when the marker was replaced (a change by this node's workers: seen at once) or
    a second after the last read (another node's)."""

    def __init__(self, store: Store, name: str, data_dir: Path) -> None:
        self._store = store
        self._name = name
        self._marker = data_dir / f"{name}.changed"
        self._seen: tuple[int, int] = (0, 0)
        self._read_at = 0.0
        self._value: bytes | None = None
        self._lock = threading.Lock()

    def _stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self._marker)
        except FileNotFoundError:
            return (0, 0)
        return (st.st_ino, st.st_mtime_ns)

    def get(self, fresh: bool = False) -> bytes | None:
        """The value; ``fresh``: read from the store whatever the marker says."""
        stamp = self._stamp()
        if fresh or stamp != self._seen or time.monotonic() - self._read_at >= STORE_REREAD_SECONDS:
            value = self._store.node_value(self._name)
            with self._lock:
                self._value, self._seen, self._read_at = value, stamp, time.monotonic()
        return self._value

    def set(self, value: bytes) -> None:
        self._store.set_node_value(self._name, value)
        with self._lock:
            self._value = value
        # A new file each time (a new inode), so a worker's stat sees the change even within
        # one tick of the file system's timestamps.
        temporary = self._marker.with_name(f"{self._marker.name}.{os.getpid()}.{threading.get_ident()}")
        temporary.write_bytes(b"")
        os.replace(temporary, self._marker)


class SharedOffsetClock(OffsetClock):
    """An ``OffsetClock`` whose offset is a ``SharedValue``: every worker agrees on the time a
    test moved it to. ``refresh`` is called once per request, so a request sees one time."""

    def __init__(self, shared: SharedValue) -> None:
        super().__init__()
        self._shared = shared
        self.refresh()

    def _read(self, fresh: bool = False) -> None:
        raw = self._shared.get(fresh)
        with self._lock:
            self._offset = float(raw.decode()) if raw else 0.0

    def refresh(self) -> None:
        self._read()

    def advance(self, seconds: float) -> None:
        self._read(fresh=True)  # another node may have moved it
        self.reset(self._offset + seconds)

    def reset(self, offset: float = 0.0) -> None:
        self._shared.set(repr(offset).encode())
        super().reset(offset)


class SingleNode:
    """The ``LiveNodes`` and ``Leadership`` ports of a node on its own: one node, and the leader."""

    def live_nodes(self) -> int:
        return 1

    def is_leader(self) -> bool:
        return True
