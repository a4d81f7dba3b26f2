"""The database's own clock, and the fence check a holder's write makes in its transaction.

Leases are judged by the database's clock, never a node's: nodes' clocks drift apart, the
database's is one (storage/leases.py). Seconds since the epoch, as a float, in each dialect.
"""

from __future__ import annotations

from sqlalchemy import literal_column, select
from sqlalchemy.sql import ClauseElement

from openkms.storage.schema import leases
from openkms.storage.sql.db import param

NOW_SQL = {
    # clock_timestamp(), not now(): now() stands still for the whole transaction.
    "postgresql": "extract(epoch FROM clock_timestamp())",
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
}


def fence_check(dialect: str) -> ClauseElement:
    """The lease's row if ``holder`` still holds it at ``epoch`` and it has not run out; read
    with a share lock (PostgreSQL), so that a steal waits for this transaction to end and is
    ordered after its writes. (SQLite's writers are serial already.)"""
    return (
        select(leases.c.epoch)
        .where(
            leases.c.name == param("lease"),
            leases.c.holder == param("holder"),
            leases.c.epoch == param("epoch"),
            leases.c.valid_until > literal_column(NOW_SQL[dialect]),
        )
        .with_for_update(read=True)
    )
