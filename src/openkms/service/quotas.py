"""Request quotas, enforced per (account, region, quota class) in each worker process.

A cluster-wide rate is shared out without talking to the other processes: each node takes its
share of the live node count (the ``LiveNodes`` port), each worker its share of its node's worker
count. With requests spread evenly (a load balancer over the nodes, the kernel over a node's
workers) the cluster as a whole admits the configured rate. The buckets read the server's clock,
so a test moves time instead of waiting for it.
"""

from __future__ import annotations

import logging
import threading

from openkms.domain import errors
from openkms.domain.node_ports import LiveNodes
from openkms.domain.ports import Clock
from openkms.domain.quotas import CLASS_OF, QuotaClass, QuotaPlan, Rate, TokenBucket, retry_after_seconds

log = logging.getLogger("openkms.quotas")
# How often the live node count is asked again (seconds of the clock): a lease table's query.
NODES_REFRESH_SECONDS = 1.0


class QuotaService:
    def __init__(self, plan: QuotaPlan, clock: Clock, nodes: LiveNodes, workers: int = 1) -> None:
        self._rates = plan.rates()
        self.enforced = not plan.unlimited  # False: take() is never needed (the default profile)
        self._clock = clock
        self._nodes = nodes
        self._workers = max(workers, 1)
        self._node_count = 1
        self._nodes_at = float("-inf")
        self._buckets: dict[tuple[str, str, QuotaClass], TokenBucket] = {}
        self._lock = threading.Lock()  # handlers may run on worker threads

    def rate_for(self, account_uid: str, quota_class: QuotaClass) -> Rate | None:
        """The cluster-wide rate of ``quota_class`` for the account; None: unlimited."""
        return self._rates.get((account_uid, quota_class)) or self._rates.get(("", quota_class))

    def take(self, account_uid: str, region: str, service: str, action: str) -> None:
        """Count one request of ``action``; raises ``Throttled`` when its class's rate is spent."""
        if not self.enforced:
            return
        quota_class = CLASS_OF[service, action]
        rate = self.rate_for(account_uid, quota_class)
        if rate is None:
            return
        now = self._clock.now()
        with self._lock:
            share = rate.share(self._live_nodes(now) * self._workers)
            key = (account_uid, region, quota_class)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(now, max(share.count, 1.0))
            wait = bucket.take(now, share)
        if wait > 0:
            raise errors.Throttled(quota_class.value, retry_after_seconds(wait))

    def _live_nodes(self, now: float) -> int:
        """The node count, asked again once a second (the caller holds the lock)."""
        if not self._nodes_at <= now < self._nodes_at + NODES_REFRESH_SECONDS:
            self._nodes_at = now
            try:
                self._node_count = max(self._nodes.live_nodes(), 1)
            except errors.KmsError as exc:  # the count cannot be read: the last one holds meanwhile
                log.warning("quotas: the live node count cannot be read (%s); sharing by %d", exc, self._node_count)
        return self._node_count
