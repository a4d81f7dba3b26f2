"""The console's sessions and failed log-ons: the ``console_sessions`` and ``logon_failures`` tables.

A subject's count is read, changed and written in one write unit of work; the scope lock on the
subject (``LOGON_SCOPE`` in place of a region) makes concurrent failures of one subject count one
after the other on PostgreSQL, as ``BEGIN IMMEDIATE`` does on SQLite.
"""

from __future__ import annotations

from sqlalchemy import and_, delete, insert, select, update

from openkms.domain.logon import ConsoleSession, LogOnFailures
from openkms.storage import schema as t
from openkms.storage.sql.db import Db, param
from openkms.storage.sql.mapping import Mapper
from openkms.storage.sql.scopes import Scopes

LOGON_SCOPE = "-logon-"  # never a region id

SESSION = Mapper(ConsoleSession, t.console_sessions)
S = t.console_sessions.c
SESSION_GET = select(*SESSION.columns).where(S.id_hash == param("id_hash"))
SESSION_INSERT = insert(t.console_sessions).values(SESSION.values())
SESSION_REVOKE = update(t.console_sessions).where(S.id_hash == param("id_hash")).values(revoked=True)
SESSION_DELETE = delete(t.console_sessions).where(S.id_hash == param("id_hash"))
SESSIONS_PURGE = delete(t.console_sessions).where(S.expires_at <= param("now"))

FAILURES = Mapper(LogOnFailures, t.logon_failures)
F = t.logon_failures.c
FAILURES_GET = select(*FAILURES.columns).where(F.subject == param("subject"))
FAILURES_INSERT = insert(t.logon_failures).values(FAILURES.values())
FAILURES_UPDATE = update(t.logon_failures).where(F.subject == param("subject")).values(FAILURES.values("subject"))
FAILURES_DELETE = delete(t.logon_failures).where(F.subject == param("subject"))
FAILURES_PURGE = delete(t.logon_failures).where(and_(F.blocked_until < param("before"), F.first_at < param("before")))


class SqlConsoleSessions:
    def __init__(self, db: Db) -> None:
        self._db = db

    def get(self, id_hash: str) -> ConsoleSession | None:
        return self._db.one_as(SESSION_GET, SESSION.from_row, id_hash=id_hash)

    def add(self, session: ConsoleSession) -> None:
        self._db.run(SESSION_INSERT, **SESSION.to_params(session))

    def revoke(self, id_hash: str) -> None:
        self._db.run(SESSION_REVOKE, id_hash=id_hash)

    def delete(self, id_hash: str) -> None:
        self._db.run(SESSION_DELETE, id_hash=id_hash)

    def purge(self, now: int) -> None:
        self._db.run(SESSIONS_PURGE, now=now)


class SqlLogOnFailures:
    def __init__(self, db: Db, scopes: Scopes) -> None:
        self._db = db
        self._scopes = scopes

    def get(self, subject: str) -> LogOnFailures | None:
        self._scopes.lock(subject, LOGON_SCOPE)
        return self._db.one_as(FAILURES_GET, FAILURES.from_row, subject=subject)

    def put(self, state: LogOnFailures) -> None:
        self._scopes.lock(state.subject, LOGON_SCOPE)
        if self._db.one(FAILURES_GET, subject=state.subject) is None:
            self._db.run(FAILURES_INSERT, **FAILURES.to_params(state))
        else:
            self._db.run(FAILURES_UPDATE, **FAILURES.to_params(state))

    def clear(self, subject: str) -> None:
        self._scopes.lock(subject, LOGON_SCOPE)
        self._db.run(FAILURES_DELETE, subject=subject)

    def purge(self, before: int) -> None:
        self._db.run(FAILURES_PURGE, before=before)
