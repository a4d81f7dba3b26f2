"""Console log-on: server-side sessions and the throttle on failed log-ons.

A session is a row every worker and node reads: the browser holds a random session id, the store
only its SHA-256, so a copy of the database opens no session. Logging off deletes the row; a row
marked revoked (its AccessKey was disabled, deleted or re-keyed) never comes back.

The throttle counts failed log-ons per subject (a source address, or the SHA-256 of a typed
AccessKey id, never the id itself: a secret pasted into the wrong field must not be stored). After
``MAX_FAILURES`` failures within ``WINDOW`` seconds the subject is refused for ``FIRST_BLOCK``
seconds, and every further failure doubles that, up to ``MAX_BLOCK``; the count is forgotten once
``WINDOW`` seconds pass without a failure after the last refusal ends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_FAILURES = 5
WINDOW = 15 * 60
FIRST_BLOCK = 60
MAX_BLOCK = 60 * 60


def digest(value: str) -> str:
    """The SHA-256 of a session id or a typed AccessKey id, as stored (hex)."""
    return hashlib.sha256(value.encode()).hexdigest()


def fingerprint(value: str) -> str:
    """A short fingerprint for the log: the first 8 hex digits of the SHA-256."""
    return digest(value)[:8]


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    id_hash: str  # SHA-256 of the random session id the cookie carries
    access_key_id: str
    account_uid: str
    user_name: str  # the RAM user of the AccessKey; empty: the account's own key
    secret_fingerprint: str  # keyed fingerprint of the secret at log-on: re-keying ends the session
    created_at: int
    expires_at: int
    revoked: bool = False

    def live(self, now: int) -> bool:
        return not self.revoked and now < self.expires_at


@dataclass(frozen=True, slots=True)
class LogOnFailures:
    subject: str  # "ip:<address>" or "ak:<sha-256 of the typed id>"
    failures: int
    first_at: int  # when the count began
    blocked_until: int  # 0: not refused


def source_subject(address: str) -> str:
    return f"ip:{address}"


def access_key_subject(typed_id: str) -> str:
    return f"ak:{digest(typed_id.strip())}"


def wait_seconds(state: LogOnFailures | None, now: int) -> int:
    """How long the subject is still refused (0: it may try)."""
    return 0 if state is None else max(0, state.blocked_until - now)


def after_failure(state: LogOnFailures | None, subject: str, now: int) -> LogOnFailures:
    """The count after one more failed log-on at ``now``."""
    if state is not None and _forgotten(state, now):
        state = None
    if state is None:
        state = LogOnFailures(subject, 0, now, 0)
    failures = state.failures + 1
    blocked_until = state.blocked_until
    if failures >= MAX_FAILURES:
        blocked_until = now + min(FIRST_BLOCK << min(failures - MAX_FAILURES, 16), MAX_BLOCK)
    return LogOnFailures(subject, failures, state.first_at, blocked_until)


def _forgotten(state: LogOnFailures, now: int) -> bool:
    if state.failures < MAX_FAILURES:
        return now - state.first_at >= WINDOW  # the window passed before the threshold
    return now - state.blocked_until >= WINDOW  # quiet for a window after the last refusal
