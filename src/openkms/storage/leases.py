"""Who runs the background jobs among every worker of every node on one database, and which nodes
are alive: a lease row and a heartbeat row per node, both judged by the database's clock.

The lease follows Vault's PostgreSQL HA lock (one statement takes or renews it: ``INSERT … ON
CONFLICT DO UPDATE … WHERE`` the row is the caller's or has run out; the caller holds it iff a
row comes back) and adds a fencing epoch: it goes up each time the lease changes hands, and every
write the holder makes while it runs the jobs checks, in its own transaction, that the lease is
still its own at that epoch (``Store.fenced``; storage/sql/fence.py). A holder paused past its lease
(a long garbage collection, a stopped VM) cannot write once another took the lease.

The holder renews every third of the lease, so two renewals can fail before it runs out; the
others try as often, so a dead holder is replaced within a lease and a third of one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from openkms.domain import errors
from openkms.domain.ports import Fence
from openkms.storage.sql.fence import NOW_SQL

log = logging.getLogger("openkms.cluster")
SCHEDULER = "scheduler"
NODE_ID_FILE = "node-id"


def node_id(data_dir: Path) -> str:
    """This node's name among the nodes on one database: made once, kept in its data directory (a
    restarted node is the same node). Written whole beside it, then linked into place: a process
    starting at the same moment reads the first one's name, never half of it."""
    path = data_dir / NODE_ID_FILE
    if not path.exists():
        made = data_dir / f".{NODE_ID_FILE}.{uuid.uuid4().hex}"
        made.write_text(uuid.uuid4().hex[:16])
        try:
            # A process starting at the same moment may have named the node first: its name stands.
            with contextlib.suppress(FileExistsError):
                os.link(made, path)
        finally:
            made.unlink()
    return path.read_text().strip()


# Templates filled with the dialect's clock (a constant of fence.py), never with input.
_STATEMENTS = (
    # Take or renew: a row comes back iff the caller holds the lease; the epoch rises when it changes hands.
    "INSERT INTO leases (name, holder, epoch, valid_until) VALUES (:lease, :holder, 1, {now} + :ttl) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, valid_until = excluded.valid_until, "
    "epoch = CASE WHEN leases.holder = excluded.holder AND leases.valid_until > {now} "
    "THEN leases.epoch ELSE leases.epoch + 1 END "
    "WHERE leases.holder = excluded.holder OR leases.valid_until <= {now} "
    "RETURNING epoch",
    "INSERT INTO cluster_nodes (node_id, seen_at) VALUES (:node, {now}) "
    "ON CONFLICT (node_id) DO UPDATE SET seen_at = excluded.seen_at",
    "SELECT count(*) FROM cluster_nodes WHERE seen_at > {now} - :ttl",
    # A clean stop hands the lease over at once: the next holder need not wait for it to run out.
    "UPDATE leases SET valid_until = {now} WHERE name = :lease AND holder = :holder",
    "SELECT holder FROM leases WHERE name = :lease AND valid_until > {now}",
)


class SqlLeases:
    """One process's part: its identity as a holder, its node's heartbeat, the scheduler's lease."""

    def __init__(self, engine: Engine, node_id: str, lease_seconds: float, lease: str = SCHEDULER) -> None:
        self._engine = engine
        self.node_id = node_id
        self.holder = f"{node_id}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self._lease = lease
        self._live = 1
        self._leading_node = ""  # the node whose process held the lease at the last renewal
        now = NOW_SQL[engine.dialect.name]
        self._take, self._beat, self._count, self._give_up, self._holder = (
            text(sql.format(now=now)) for sql in _STATEMENTS
        )

    def renew(self) -> Fence | None:
        """Beat this node's heart, count the live nodes, and take or renew the lease: the fence
        while this process holds it, None while another does. BackendUnavailable when the
        database cannot be reached (the caller holds nothing then)."""
        params = {"lease": self._lease, "holder": self.holder, "ttl": self.lease_seconds, "node": self.node_id}
        try:
            with self._engine.begin() as conn:
                conn.execute(self._beat, params)
                self._live = max(1, int(conn.execute(self._count, params).scalar_one()))
                epoch = conn.execute(self._take, params).scalar_one_or_none()
                holder = conn.execute(self._holder, params).scalar_one_or_none()
        except SQLAlchemyError as exc:
            self._leading_node = ""
            raise errors.BackendUnavailable("The database is not available.") from exc
        self._leading_node = str(holder).split("/", 1)[0] if holder else ""
        return None if epoch is None else Fence(self._lease, self.holder, int(epoch))

    def live_nodes(self) -> int:
        """The nodes heard within a lease, as of this process's last renewal (at least this one):
        for quotas, each node's share of a cluster-wide rate. No query: cheap on every request."""
        return self._live

    def is_leader(self) -> bool:
        """Whether one of this node's processes held the lease at the last renewal (the Leadership
        port: the metrics' ``openkms_leader``, which is per node, whichever worker is scraped)."""
        return self._leading_node == self.node_id

    def release(self) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(self._give_up, {"lease": self._lease, "holder": self.holder})
        except SQLAlchemyError as exc:  # stopping anyway: the lease runs out by itself
            log.warning("could not hand the scheduler's lease over: %s", exc)
