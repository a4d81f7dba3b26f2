"""The ports of a running node, apart from its data: its share of the cluster (how many nodes serve,
whether it leads the scheduled jobs) and what it reports per request to an operator's monitoring."""

from __future__ import annotations

from typing import Protocol


class LiveNodes(Protocol):
    """How many nodes serve the cluster now (a lease table counts them); one on its own."""

    def live_nodes(self) -> int:
        """At least 1. Called about once a second per worker, never per request."""
        ...


class Leadership(Protocol):
    """Whether this node runs the cluster's scheduled jobs now."""

    def is_leader(self) -> bool: ...


class RequestMetrics(Protocol):
    """What the API reports per request to an operator's monitoring. Labels are bounded names
    (an action, an error code, a quota class): never a key id or an AccessKey."""

    def started(self) -> None:
        """A request arrived (the in-flight gauge)."""
        ...

    def finished(self, action: str, code: str, seconds: float) -> None:
        """It was answered, with ``code`` ("-" for success), after ``seconds``."""
        ...

    def throttled(self, quota_class: str) -> None: ...

    def nonce_refused(self) -> None: ...


class NoMetrics:
    """No monitoring: what a runtime without a metrics adapter reports to."""

    def started(self) -> None:
        return None

    def finished(self, action: str, code: str, seconds: float) -> None:
        return None

    def throttled(self, quota_class: str) -> None:
        return None

    def nonce_refused(self) -> None:
        return None
