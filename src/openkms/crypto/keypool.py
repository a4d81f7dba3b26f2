"""A small pool of pre-generated key pairs, refilled by a background thread.

RSA key generation takes tens of milliseconds (2048 bits) to hundreds (3072 bits); a user who
creates many keys should not wait for it. ``cryptography`` releases the GIL while it generates,
so the refill thread does not stall request handling. Each worker process has its own pool.

The first fill waits ``fill_after`` seconds, or until a pair is first taken: filling the pool
(two RSA_2048 and two RSA_3072 pairs) takes about a third of a second of CPU, which a server that
has just started owes its first requests (issue 16: ready in under a second; see
``benchmarks/dev_start.py``).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable

log = logging.getLogger("openkms.crypto")

KeyPair = tuple[bytes, bytes]
FILL_AFTER_SECONDS = 5.0


class KeyPool:
    def __init__(
        self,
        generate: Callable[[str], KeyPair],
        specs: Iterable[str],
        size: int,
        fill_after: float = FILL_AFTER_SECONDS,
    ) -> None:
        self._generate = generate
        self._size = size
        self._ready: dict[str, deque[KeyPair]] = {spec: deque() for spec in specs}
        self._cond = threading.Condition()
        self._closed = False
        self._fill_after = fill_after
        self._taken = False
        self._thread: threading.Thread | None = None
        if size > 0:
            self._thread = threading.Thread(target=self._refill, name="openkms-keypool", daemon=True)
            self._thread.start()

    def take(self, spec: str) -> KeyPair:
        """A ready pair if there is one, else one generated now."""
        queue = self._ready.get(spec)
        if queue is not None:
            with self._cond:
                pair = queue.popleft() if queue else None
                self._taken = True  # the first fill starts now if it was still waiting
                self._cond.notify()
            if pair is not None:
                return pair
        return self._generate(spec)

    def ready(self, spec: str) -> int:
        with self._cond:
            return len(self._ready.get(spec, ()))

    def _needy(self) -> str | None:
        for spec, queue in self._ready.items():
            if len(queue) < self._size:
                return spec
        return None

    def _refill(self) -> None:
        with self._cond:  # real time, not the services' clock: this is about the start's CPU
            self._cond.wait_for(lambda: self._closed or self._taken, timeout=self._fill_after)
        while True:
            with self._cond:
                while not self._closed and self._needy() is None:
                    self._cond.wait()
                if self._closed:
                    return
                spec = self._needy()
            assert spec is not None
            try:
                pair = self._generate(spec)
            except Exception:
                log.exception("key pool: generating a %s key pair failed", spec)
                return
            with self._cond:
                self._ready[spec].append(pair)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
