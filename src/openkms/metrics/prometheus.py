"""The metrics adapter: prometheus-client, in multi-process mode under ``openkms serve``.

``openkms serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a directory under the data directory,
emptied at each start, before any worker imports prometheus-client: each worker then writes its
samples to memory-mapped files there, and whichever worker answers a scrape adds up every
worker's (``MultiProcessCollector``). In one process without that variable (tests, the testkit),
the process's own registry is read.

The request path does one counter increment and one histogram observation per request, on label
children looked up once; labels are bounded names (an action, an error code, a quota class, a
key store's configured id) and never a key id or an AccessKey (tests/unit/metrics).

In multi-process mode each of those is a write to a memory-mapped file under a lock (about 8 us
for a request's four, measured in a loop; more in a running server). A worker therefore counts
its requests in memory (``_Tally``) and writes the sums to its files every ``FLUSH_SECONDS``, at
a scrape it answers, and when it exits: a scrape may miss at most the last ``FLUSH_SECONDS`` of
another worker's requests, and a worker killed with SIGKILL loses at most those.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import threading
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

__all__ = ["CONTENT_TYPE_LATEST", "LiveState", "PrometheusMetrics", "exposition", "multiprocess_mode"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger("openkms.metrics")
# Each worker's files, allocated on disk before prometheus-client maps them (see reserve_files).
RESERVED_BYTES = 1 << 20
# The files one worker writes: one per metric type (gauges by their multi-process mode).
_FILE_PREFIXES = ("counter", "histogram", "gauge_livesum", "gauge_max")


def reserve_files(directory: str, pid: int, size: int = RESERVED_BYTES) -> None:
    """Allocate this worker's metric files on disk before prometheus-client first maps them.

    prometheus-client maps each file and writes new samples into pages the file system has not
    allocated yet (a sparse file). When the disk holding them is full, such a write is not an
    error but SIGBUS, and the worker dies: a full data directory, which openkms otherwise answers
    with 503s, would kill every worker. A file allocated here in full (and empty: its first word,
    the bytes used, is 0) is taken as it is; a megabyte holds every action's samples many times.
    """
    for prefix in _FILE_PREFIXES:
        path = os.path.join(directory, f"{prefix}_{pid}.db")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue  # a reused pid's, from this run: prometheus-client continues it
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            log.warning("metrics: cannot reserve %s (%s); a full disk there could stop this worker", path, exc)
        finally:
            os.close(fd)


if os.environ.get(MULTIPROC_ENV):
    reserve_files(os.environ[MULTIPROC_ENV], os.getpid())
# OpenTelemetry's advised buckets for http.server.request.duration (seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

# One set per process: prometheus-client keeps each name once per registry.
REQUESTS = Counter(
    "openkms_requests", "API requests answered, by action and error code (OK: success).", ["action", "code"]
)
DURATION = Histogram("openkms_request_duration_seconds", "Time to answer an API request.", ["action"], buckets=BUCKETS)
IN_FLIGHT = Gauge("openkms_in_flight_requests", "API requests being answered now.", multiprocess_mode="livesum")
THROTTLED = Counter("openkms_throttled", "Requests refused as over their quota, by quota class.", ["quota_class"])
NONCE_REFUSALS = Counter("openkms_nonce_refusals", "Signed requests refused as replays (SignatureNonceUsed).")
AUDIT_WRITE_FAILURES = Counter("openkms_audit_write_failures", "Audit events that could not be written.")
SCHEDULER_LAST_RUN = Gauge(
    "openkms_scheduler_last_run_timestamp_seconds",
    "When the scheduler last finished a run (rotation, deletion, expiry), seconds since the epoch.",
    multiprocess_mode="max",
)


FLUSH_SECONDS = 0.05  # how long a worker's counts may wait in memory before its files hold them
_BOUNDS = (*BUCKETS, float("inf"))  # the histogram's buckets, +Inf last, as prometheus-client keeps them


class _Tally:
    """A worker's requests counted since its last flush: per (action, code) how many, per action
    how many fell in each duration bucket and their sum."""

    __slots__ = ("buckets", "requests", "sums")

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = {}
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}


class PrometheusMetrics:
    """The ``RequestMetrics`` port. Label children are cached: ``labels()`` takes a lock and
    builds a tuple each time, which the request path does not need to pay.

    ``batched`` (the default in multi-process mode): counted in memory, written by ``flush``."""

    def __init__(self, batched: bool | None = None) -> None:
        self._requests: dict[tuple[str, str], Counter] = {}
        self._durations: dict[str, Histogram] = {}
        self._throttled: dict[str, Counter] = {}
        self._batched = multiprocess_mode() if batched is None else batched
        self._lock = threading.Lock()  # the tally: handlers may finish on several threads
        self._tally = _Tally()
        self._in_flight = 0
        self._written_in_flight = 0
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()

    def started(self) -> None:
        if not self._batched:
            IN_FLIGHT.inc()
            return
        with self._lock:
            self._in_flight += 1
        if self._flusher is None:
            self._start_flusher()

    def finished(self, action: str, code: str, seconds: float) -> None:
        if not self._batched:
            IN_FLIGHT.dec()
            self._counter(action, code).inc()
            self._histogram(action).observe(seconds)
            return
        where = bisect.bisect_left(_BOUNDS, seconds)  # the first bucket whose bound is >= seconds
        with self._lock:
            tally = self._tally
            self._in_flight -= 1
            tally.requests[action, code] = tally.requests.get((action, code), 0) + 1
            buckets = tally.buckets.get(action)
            if buckets is None:
                buckets = tally.buckets[action] = [0] * len(_BOUNDS)
                tally.sums[action] = 0.0
            buckets[where] += 1
            tally.sums[action] += seconds

    def flush(self) -> None:
        """Write what was counted in memory to this worker's files (a no-op unless batched)."""
        if not self._batched:
            return
        with self._lock:
            tally, self._tally = self._tally, _Tally()
            in_flight = self._in_flight
        for (action, code), count in tally.requests.items():
            self._counter(action, code).inc(count)
        for action, buckets in tally.buckets.items():
            histogram = self._histogram(action)
            # What ``observe`` does for one value, for many at once: prometheus-client (pinned)
            # keeps a histogram child's sum and its non-cumulative buckets as these values.
            histogram._sum.inc(tally.sums[action])
            for value, count in zip(histogram._buckets, buckets, strict=True):
                if count:
                    value.inc(count)
        if in_flight != self._written_in_flight:
            IN_FLIGHT.set(in_flight)
            self._written_in_flight = in_flight

    def close(self) -> None:
        self._stop.set()
        self.flush()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = threading.Thread(target=self._flush_every, name="metrics-flush", daemon=True)
        self._flusher.start()
        atexit.register(self.close)  # a worker's last requests, when it exits

    def _flush_every(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except Exception:  # never let the thread die: the next flush writes what this one did not
                log.exception("metrics: writing the counts failed")

    def _counter(self, action: str, code: str) -> Counter:
        counter = self._requests.get((action, code))
        if counter is None:
            counter = self._requests[action, code] = REQUESTS.labels(action, code)
        return counter

    def _histogram(self, action: str) -> Histogram:
        histogram = self._durations.get(action)
        if histogram is None:
            histogram = self._durations[action] = DURATION.labels(action)
        return histogram

    def throttled(self, quota_class: str) -> None:
        counter = self._throttled.get(quota_class)
        if counter is None:
            counter = self._throttled[quota_class] = THROTTLED.labels(quota_class)
        counter.inc()

    def nonce_refused(self) -> None:
        NONCE_REFUSALS.inc()

    @staticmethod
    def audit_write_failed() -> None:
        AUDIT_WRITE_FAILURES.inc()

    @staticmethod
    def scheduler_ran(now: float) -> None:
        SCHEDULER_LAST_RUN.set(now)


class LiveState(Collector):
    """What is read at the scrape rather than counted: the key stores' health, leadership and the
    scheduler's lag behind its interval (from the newest run any worker recorded, ``last_run``)."""

    def __init__(
        self,
        key_stores: Callable[[], list[tuple[str, str, bool]]],
        leader: Callable[[], bool],
        now: Callable[[], float],
        scheduler_interval: float,
    ) -> None:
        self._key_stores = key_stores
        self._leader = leader
        self._now = now
        self._interval = scheduler_interval
        self.last_run: float | None = None

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "openkms_key_store_up", "1 if the key store answers, else 0.", labels=["key_store", "protection_level"]
        )
        for store_id, level, reachable in self._key_stores():
            up.add_metric([store_id or "default", level], 1.0 if reachable else 0.0)
        yield up
        yield GaugeMetricFamily("openkms_leader", "1 if this node runs the scheduled jobs.", value=int(self._leader()))
        last = self.last_run
        if last is not None:
            lag = max(self._now() - last - self._interval, 0.0)
            yield GaugeMetricFamily(
                "openkms_scheduler_lag_seconds", "How far the scheduler is behind its interval.", value=lag
            )


def multiprocess_mode() -> bool:
    """Whether this process writes its samples to the shared directory: the variable was set
    before prometheus-client was first imported."""
    return bool(os.environ.get(MULTIPROC_ENV)) and values.ValueClass is not values.MutexValue


def counted() -> CollectorRegistry:
    """Every worker's counted samples: the shared directory's, or this process's registry."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def newest_run(registry: CollectorRegistry) -> float | None:
    for metric in registry.collect():
        if metric.name == "openkms_scheduler_last_run_timestamp_seconds":
            runs = [s.value for s in metric.samples if s.value > 0]
            return max(runs) if runs else None
    return None


def exposition(live: LiveState) -> bytes:
    """The text a scrape answers: the counted samples, then the live state. Called off the event
    loop: it reads every worker's files and asks each key store."""
    registry = counted()
    live.last_run = newest_run(registry)
    state = CollectorRegistry(auto_describe=False)
    state.register(live)
    return generate_latest(registry) + generate_latest(state)
