"""The test control API's use cases: the server's clock, fault rules, reset, the recent requests.

Built only when dev mode or ``[testing] control_api`` is on. Only the administrator's own
AccessKey may use it (``administrator``): it moves every account's time and erases every
account's data. Fault rules and the request log are this process's (dev mode runs one worker);
the clock's offset is in the store, so every worker and node agrees on it.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from openkms.domain.audit import KeyedHash, redact
from openkms.domain.faults import FaultRule, rule_from, stored_rule
from openkms.domain.ports import Store
from openkms.domain.seed import Seed
from openkms.service.container import Services
from openkms.service.identity import Credential
from openkms.service.scheduler import SchedulerReport
from openkms.service.seeding import SeedService

REQUEST_LOG_SIZE = 1000


class MovableClock(Protocol):
    """The services' clock in a test server: real time plus an offset the control API sets."""

    @property
    def offset(self) -> float: ...
    def now(self) -> float: ...
    def advance(self, seconds: float) -> None: ...
    def reset(self, offset: float = 0.0) -> None: ...
    def refresh(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    time: float
    request_id: str
    action: str
    access_key_id: str
    parameters: Mapping[str, Any] = field(repr=False)  # redacted as the audit trail's are
    status: int
    code: str
    latency_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "Time": self.time,
            "RequestId": self.request_id,
            "Action": self.action,
            "AccessKeyId": self.access_key_id,
            "Parameters": dict(self.parameters),
            "HttpStatus": self.status,
            "Code": self.code,
            "LatencyMs": round(self.latency_ms, 3),
        }


class SharedBytes(Protocol):
    """A value every worker of the server reads (``system.SharedValue``)."""

    def get(self, fresh: bool = False) -> bytes | None: ...
    def set(self, value: bytes) -> None: ...


class Faults:
    """The rules, first added first tried; a rule with a count fires that many times. With
    ``shared``, the rules are every worker's: read again when another worker changed them."""

    def __init__(self, shared: SharedBytes | None = None, rng: random.Random | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._shared = shared
        self._raw: bytes | None = None  # what the rules were read from
        self._published = 0  # rules published by this process: a read begun before is older
        self._lock = threading.Lock()
        self._rng = rng or random.Random()  # noqa: S311 (chance, not secrecy)

    # The shared value is read and written outside the lock: it may be a database round trip, and
    # a request's greenlet waiting on one must hold no lock another request takes (openkms/offload.py).
    def _read(self, fresh: bool = False) -> tuple[int, bytes | None]:
        published = self._published
        return published, None if self._shared is None else self._shared.get(fresh)

    def _sync(self, read: tuple[int, bytes | None]) -> None:
        published, raw = read
        if self._shared is not None and published == self._published and raw != self._raw:
            self._rules = [stored_rule(r) for r in json.loads(raw)] if raw else []
            self._raw = raw

    def _encoded(self) -> bytes | None:
        """The rules to publish (under the lock); None without a shared value."""
        if self._shared is None:
            return None
        self._raw = json.dumps([r.to_json() for r in self._rules]).encode()
        self._published += 1
        return self._raw

    def _publish(self, raw: bytes | None) -> None:
        if self._shared is not None and raw is not None:
            self._shared.set(raw)

    def add(self, body: dict[str, Any]) -> FaultRule:
        raw = self._read(fresh=True)
        with self._lock:
            self._sync(raw)
            number = 1 + max((int(r.id.rpartition("-")[2]) for r in self._rules), default=0)
            rule = rule_from(f"fault-{number}", body)
            self._rules.append(rule)
            published = self._encoded()
        self._publish(published)
        return rule

    def rules(self) -> list[FaultRule]:
        raw = self._read()
        with self._lock:
            self._sync(raw)
            return list(self._rules)

    def clear(self) -> None:
        raw = self._read(fresh=True)
        with self._lock:
            self._sync(raw)
            if not self._rules:  # a reset before every test: most find none, and skip the write
                return
            self._rules = []
            published = self._encoded()
        self._publish(published)

    def pick(self, action: str, account: str) -> FaultRule | None:
        """The rule that fires for this request, its count taken down; None for most requests."""
        raw = self._read()
        published = None
        picked = None
        with self._lock:
            self._sync(raw)
            for i, rule in enumerate(self._rules):
                if rule.applies(action, account) and self._rng.random() < rule.probability:
                    if rule.count is not None:
                        self._rules[i] = FaultRule(*_fields(rule, count=rule.count - 1))
                        published = self._encoded()
                    picked = rule
                    break
        self._publish(published)
        return picked


def _fields(rule: FaultRule, count: int) -> tuple[Any, ...]:
    return (rule.id, rule.action, rule.account, rule.probability, count, rule.delay, rule.error)


class RequestLog:
    def __init__(self, keyed_hash: KeyedHash, size: int = REQUEST_LOG_SIZE) -> None:
        self._hash = keyed_hash
        self._entries: deque[RecordedRequest] = deque(maxlen=size)

    def record(self, time: float, request_id: str, action: str, access_key_id: str, parameters: Mapping[str, str],
               status: int, code: str, latency_ms: float) -> None:  # fmt: skip
        # Redacted now: the log must never hold a plaintext, even for a moment.
        shown = redact(parameters, self._hash)
        self._entries.append(RecordedRequest(time, request_id, action, access_key_id, shown, status, code, latency_ms))

    def last(self, n: int) -> list[RecordedRequest]:
        entries = list(self._entries)
        return entries[-n:] if n > 0 else []

    def clear(self) -> None:
        self._entries.clear()


class DevControl:
    def __init__(
        self,
        store: Store,
        clock: MovableClock,
        services: Services,
        keyed_hash: KeyedHash,
        shared_faults: SharedBytes | None = None,
        seeding: SeedService | None = None,
        seed: Seed | None = None,
        dev: bool = True,
        on_reset: Callable[[], None] | None = None,
    ) -> None:
        self.clock = clock
        self.seeding = seeding
        self.seed = seed
        self.dev = dev  # a dev server (not only [testing] control_api): it may export its material
        self._on_reset = on_reset
        self.faults = Faults(shared_faults)
        self.requests = RequestLog(keyed_hash)
        self._store = store
        self._identity = services.identity
        self._scheduler = services.scheduler

    def is_administrator(self, cred: Credential) -> bool:
        """The administrator account's own pair (not one of its RAM users')."""
        return not cred.user_name and cred.account_uid == self._identity.account()

    def advance(self, seconds: float) -> SchedulerReport:
        """Moves the clock, then runs the background jobs at once: what fell due is done by the
        time the call returns, not at the scheduler's next tick."""
        self.clock.advance(seconds)
        return self._scheduler.run_once()

    def set_time(self, when: float) -> SchedulerReport:
        self.clock.refresh()
        self.clock.reset(self.clock.offset + when - self.clock.now())
        return self._scheduler.run_once()

    def reset(self, to_seed: bool = True) -> None:
        """Every account's data gone but the administrator's own pairs, then the seed's data when
        the server has a seed and ``to_seed``; real time; no faults."""
        if to_seed and self.seed is not None and self.seeding is not None:
            self.seeding.load(self.seed, again=True)
        else:
            self._store.erase(self._identity.account())
        if self._on_reset is not None:  # deterministic ids start again: a test sees the same ids each run
            self._on_reset()
        self.clock.refresh()
        if self.clock.offset != 0.0:  # most tests leave the clock alone: no write then
            self.clock.reset(0.0)
        self.faults.clear()
        self.requests.clear()
