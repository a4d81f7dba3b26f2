"""Console log-on: AccessKey pairs checked through the identity service, server-side sessions,
signed cookies, CSRF, and the throttle on failed log-ons.

A signed-in session is a row in the store (service/console_sessions.py), so every worker and node
sees a log-off or a revocation at once; the cookie carries only its random id (the store keeps
the id's SHA-256), signed with HMAC-SHA256 under a key derived from the root key. Before log-on
the cookie holds an anonymous id that only binds the log-on form's CSRF token. On every request
the row is read (logged off, revoked, expired?) and so is the AccessKey (disabled, deleted,
re-keyed? — a keyed fingerprint of the secret is kept in the row), and the caller's RAM user is
the AccessKey's as it stands now.

Failed log-ons (unknown id or wrong secret alike) are counted per source address and per typed
AccessKey id (domain/logon.py): past the limit either is refused for a while, whatever the pair.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from enum import StrEnum

from openkms.domain import errors
from openkms.domain.logon import access_key_subject, source_subject
from openkms.domain.ports import Clock
from openkms.service.console_sessions import ConsoleSessionService
from openkms.service.identity import IdentityService

COOKIE_NAME = "openkms_console"
SESSION_SECONDS = 8 * 3600


class Ended(StrEnum):
    """Why a session is over: shown on the log-on page as a fixed message (never echoed input)."""

    EXPIRED = "expired"
    DISABLED = "disabled"
    REVOKED = "revoked"
    REKEYED = "rekeyed"
    CLOSED = "closed"
    SIGNED_OUT = "signed-out"


ENDED_MESSAGES = {
    Ended.EXPIRED: "Your session has expired. Log on again.",
    Ended.DISABLED: "Your AccessKey has been disabled by an administrator, so your session has ended.",
    Ended.REVOKED: "Your AccessKey no longer exists, so your session has ended.",
    Ended.REKEYED: "The secret of your AccessKey has changed, so your session has ended. Log on with the new secret.",
    Ended.CLOSED: "This session has ended: it was logged off or revoked. Log on again.",
    Ended.SIGNED_OUT: "You have logged off.",
}

WRONG_CREDENTIALS = "The AccessKey ID or the AccessKey Secret is wrong."
DISABLED_CREDENTIALS = "This AccessKey is disabled. Ask your administrator to enable it or to issue you a new one."
TOO_MANY = "Too many failed log-ons; try again in {} seconds."


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie holds. ``sid``: the session's random id (its row's key, hashed) once
    signed in; before log-on an anonymous id that only binds the CSRF token."""

    sid: str
    issued_at: int
    expires_at: int
    signed_in: bool = False


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a signed-in request is, as the AccessKey stands now."""

    access_key_id: str
    account_uid: str
    user_name: str  # the RAM user of the AccessKey; empty: the account's own key


@dataclass(frozen=True, slots=True)
class LogOnResult:
    session: Session | None
    error: str = ""
    retry_after: int = 0  # refused by the throttle: seconds until it may try again
    known_id: bool = False  # the typed id is an AccessKey's (else the log shows only a fingerprint)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionManager:
    def __init__(
        self,
        key: bytes,
        identity: IdentityService,
        rows: ConsoleSessionService,
        clock: Clock,
        lifetime: int = SESSION_SECONDS,
    ) -> None:
        if len(key) < 32:
            raise ValueError("the console session key must be at least 32 bytes")
        # One key per use, so a value made for one purpose is never accepted for another.
        self._mac_key = hmac.digest(key, b"cookie", hashlib.sha256)
        self._csrf_key = hmac.digest(key, b"csrf", hashlib.sha256)
        self._fp_key = hmac.digest(key, b"secret-fingerprint", hashlib.sha256)
        self._identity = identity
        self._rows = rows
        self._clock = clock
        self.lifetime = lifetime

    def now(self) -> int:
        return int(self._clock.now())

    # --- the cookie ---------------------------------------------------------------------------

    def encode(self, session: Session) -> str:
        payload = _b64(json.dumps(asdict(session), separators=(",", ":"), sort_keys=True).encode())
        signature = _b64(hmac.digest(self._mac_key, payload.encode(), hashlib.sha256))
        return f"{payload}.{signature}"

    def decode(self, value: str | None) -> Session | None:
        """The session in a cookie whose signature is valid, else None (expiry is checked apart)."""
        if not value or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        expected = _b64(hmac.digest(self._mac_key, payload.encode(), hashlib.sha256))
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        try:
            data = json.loads(_unb64(payload))
            return Session(**data)
        except (ValueError, TypeError, binascii.Error):
            return None

    def anonymous(self) -> Session:
        now = self.now()
        return Session(secrets.token_urlsafe(18), now, now + self.lifetime)

    def expired(self, session: Session) -> bool:
        return self.now() >= session.expires_at

    # --- CSRF ---------------------------------------------------------------------------------

    def csrf_token(self, session: Session) -> str:
        return _b64(hmac.digest(self._csrf_key, session.sid.encode(), hashlib.sha256))

    def csrf_ok(self, session: Session, token: str) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session).encode(), token.encode())

    # --- log on and off -----------------------------------------------------------------------

    def _fingerprint(self, access_key_id: str, secret: str) -> str:
        return _b64(hmac.digest(self._fp_key, f"{access_key_id}\0{secret}".encode(), hashlib.sha256)[:16])

    def log_on(self, access_key_id: str, secret: str, source: str = "") -> LogOnResult:
        """Check a pair the way the API does (constant-time compare), unless the source address
        or the typed id is refused for its failures; a new session on success."""
        access_key_id = access_key_id.strip()
        if not access_key_id or not secret:
            return LogOnResult(None, WRONG_CREDENTIALS)
        subjects = [access_key_subject(access_key_id)] + ([source_subject(source)] if source else [])
        now = self.now()
        wait = self._rows.refused_for(subjects, now)
        if wait:
            return LogOnResult(None, TOO_MANY.format(wait), retry_after=wait)
        try:
            cred = self._identity.credential(access_key_id)
        except errors.AccessKeyNotFound:
            # Compare anyway, so an unknown id takes as long as a wrong secret.
            hmac.compare_digest(secret.encode(), secrets.token_urlsafe(24).encode())
            self._rows.failed(subjects, now)
            return LogOnResult(None, WRONG_CREDENTIALS)
        if not hmac.compare_digest(cred.secret.encode(), secret.encode()):
            self._rows.failed(subjects, now)
            return LogOnResult(None, WRONG_CREDENTIALS, known_id=True)
        if not cred.enabled:
            return LogOnResult(None, DISABLED_CREDENTIALS, known_id=True)
        self._rows.succeeded(subjects[0])
        opened = self._rows.open(
            cred.access_key_id,
            cred.account_uid,
            cred.user_name,
            self._fingerprint(cred.access_key_id, cred.secret),
            now,
            self.lifetime,
        )
        return LogOnResult(Session(opened.session_id, now, opened.session.expires_at, True), known_id=True)

    def log_off(self, session: Session) -> None:
        if session.signed_in:
            self._rows.close(session.sid)

    def resume(self, session: Session) -> SignedIn | Ended:
        """Who a signed-in session is, or why it is no longer good: checked on every request."""
        if self.expired(session):
            return Ended.EXPIRED
        row = self._rows.find(session.sid) if session.signed_in else None
        if row is None or row.revoked:
            return Ended.CLOSED
        if not row.live(self.now()):
            return Ended.EXPIRED
        ended = self._ended(row.access_key_id, row.account_uid, row.secret_fingerprint)
        if isinstance(ended, Ended):
            self._rows.revoke(session.sid)  # it stays ended, whatever happens to the AccessKey next
        return ended

    def _ended(self, access_key_id: str, account_uid: str, fingerprint: str) -> SignedIn | Ended:
        try:
            cred = self._identity.credential(access_key_id)
        except errors.AccessKeyNotFound:
            return Ended.REVOKED
        if not cred.enabled:
            return Ended.DISABLED
        current = self._fingerprint(cred.access_key_id, cred.secret)
        if cred.account_uid != account_uid or not hmac.compare_digest(current, fingerprint):
            return Ended.REKEYED
        return SignedIn(cred.access_key_id, cred.account_uid, cred.user_name)
