"""The console's sessions and its throttle on failed log-ons, kept in the store so that every
worker and node agrees (domain/logon.py holds the rules).

The console's session manager (console/auth.py) checks the AccessKey pair and the cookie; this
service only keeps the rows. Times come from the caller (the console's clock, which tests move).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from openkms.domain.logon import WINDOW, ConsoleSession, after_failure, digest, wait_seconds
from openkms.domain.ports import Store


@dataclass(frozen=True, slots=True)
class Opened:
    """A new session: ``session_id`` goes into the cookie and nowhere else."""

    session_id: str
    session: ConsoleSession

    def __repr__(self) -> str:  # keep the id out of tracebacks and debug output
        return f"Opened(expires_at={self.session.expires_at})"


class ConsoleSessionService:
    def __init__(self, store: Store) -> None:
        self._store = store

    # --- sessions -----------------------------------------------------------------------------

    def open(
        self, access_key_id: str, account_uid: str, user_name: str, secret_fingerprint: str, now: int, lifetime: int
    ) -> Opened:
        session_id = secrets.token_urlsafe(32)
        session = ConsoleSession(
            digest(session_id), access_key_id, account_uid, user_name, secret_fingerprint, now, now + lifetime
        )
        with self._store.write() as uow:
            uow.console_sessions.purge(now)
            uow.console_sessions.add(session)
        return Opened(session_id, session)

    def find(self, session_id: str) -> ConsoleSession | None:
        with self._store.read() as uow:
            return uow.console_sessions.get(digest(session_id))

    def revoke(self, session_id: str) -> None:
        """The session ends for good (its AccessKey no longer stands): it cannot come back."""
        with self._store.write() as uow:
            uow.console_sessions.revoke(digest(session_id))

    def close(self, session_id: str) -> None:
        """Log off: the row goes, so the cookie opens nothing any more."""
        with self._store.write() as uow:
            uow.console_sessions.delete(digest(session_id))

    # --- the throttle -------------------------------------------------------------------------

    def refused_for(self, subjects: Sequence[str], now: int) -> int:
        """How many seconds the longest refusal among ``subjects`` still lasts (0: none)."""
        with self._store.read() as uow:
            return max((wait_seconds(uow.logon_failures.get(s), now) for s in subjects), default=0)

    def failed(self, subjects: Sequence[str], now: int) -> None:
        """One more failed log-on for each subject (the source address and the typed id)."""
        with self._store.write() as uow:
            for subject in sorted(set(subjects)):  # one lock order for every writer
                uow.logon_failures.put(after_failure(uow.logon_failures.get(subject), subject, now))
        with self._store.write() as uow:  # apart: it holds no subject's lock while it deletes
            uow.logon_failures.purge(now - 2 * WINDOW)

    def succeeded(self, subject: str) -> None:
        """A log-on with the right secret: the id's own count is forgotten (the address's is not,
        or one valid pair would let an address go on guessing others)."""
        with self._store.write() as uow:
            uow.logon_failures.clear(subject)
