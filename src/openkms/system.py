"""The real clock and id generator (tests inject their own)."""

from __future__ import annotations

import threading
import time
import uuid


class SystemClock:
    def now(self) -> float:
        return time.time()


class UuidGenerator:
    def new_id(self) -> str:
        return str(uuid.uuid4())


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
