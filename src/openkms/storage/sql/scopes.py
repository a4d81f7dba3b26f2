"""Every write is the outcome of some serial order: one lock per (account, region) scope.

A write unit of work takes a lock on the (account, region) scope of the first key, alias or count it
touches, before reading it, and holds it to commit or rollback: every rule that reads, checks and
writes (states, spacing, quotas, alias names, material binding, rotation due) then sees the last
committed change of its scope. The repositories take it (``keys.py``, ``aliases.py``), so no
service can forget it. On PostgreSQL the lock is a transaction-scoped advisory lock (rows that do
not exist yet, such as the 21st key of a quota, are covered too); SQLite serialises every writer
with ``BEGIN IMMEDIATE`` and needs none. Lock order is scope before rows, and a caller's
transaction stays in one scope, so writers cannot deadlock. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.sql import ClauseElement

from openkms.storage.sql.db import Db, param

# The scope lock on PostgreSQL: held until the transaction ends. Two keys of one namespace, so it
# cannot collide with advisory locks another application takes with one key.
SCOPE_LOCK_NAMESPACE = 0x6F6B6D73  # "okms"
POSTGRES_SCOPE_LOCK = select(func.pg_advisory_xact_lock(param("namespace"), func.hashtext(param("scope"))))


class Scopes:
    """The (account, region) scopes a write unit of work has locked.

    ``statement`` is None where the engine already serialises writers (SQLite), and for reads.
    """

    def __init__(self, db: Db, statement: ClauseElement | None) -> None:
        self._db = db
        self._statement = statement
        self._held: set[tuple[str, str]] = set()

    def lock(self, account_uid: str, region: str) -> None:
        if self._statement is None or (account_uid, region) in self._held:
            return
        self._db.run(self._statement, namespace=SCOPE_LOCK_NAMESPACE, scope=f"{account_uid}/{region}")
        self._held.add((account_uid, region))
