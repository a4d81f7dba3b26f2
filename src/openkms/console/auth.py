"""Console log-on: AccessKey pairs checked through the identity service, signed session cookies, CSRF.

The session lives in a cookie signed with HMAC-SHA256 under a key derived from the root key, so
every worker and node that shares the root key accepts it. The cookie carries ids and times only:
never the secret. It records a keyed fingerprint of the secret instead, so re-keying the pair ends
its sessions. The expiry inside the signed payload is checked against the runtime clock on every
request (the cookie's Max-Age is only a hint to the browser), and so is the AccessKey's status.
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
from openkms.domain.ports import Clock
from openkms.service.identity import IdentityService

COOKIE_NAME = "openkms_console"
SESSION_SECONDS = 8 * 3600


class Ended(StrEnum):
    """Why a session is over: shown on the log-on page as a fixed message (never echoed input)."""

    EXPIRED = "expired"
    DISABLED = "disabled"
    REVOKED = "revoked"
    REKEYED = "rekeyed"
    SIGNED_OUT = "signed-out"


ENDED_MESSAGES = {
    Ended.EXPIRED: "Your session has expired. Log on again.",
    Ended.DISABLED: "Your AccessKey has been disabled by an administrator, so your session has ended.",
    Ended.REVOKED: "Your AccessKey no longer exists, so your session has ended.",
    Ended.REKEYED: "The secret of your AccessKey has changed, so your session has ended. Log on with the new secret.",
    Ended.SIGNED_OUT: "You have logged off.",
}

WRONG_CREDENTIALS = "The AccessKey ID or the AccessKey Secret is wrong."
DISABLED_CREDENTIALS = "This AccessKey is disabled. Ask your administrator to enable it or to issue you a new one."


@dataclass(frozen=True, slots=True)
class Session:
    """``access_key_id`` is empty before log-on: the anonymous session only carries a CSRF token."""

    sid: str
    issued_at: int
    expires_at: int
    access_key_id: str = ""
    account_uid: str = ""
    fingerprint: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.access_key_id)


@dataclass(frozen=True, slots=True)
class LogOnResult:
    session: Session | None
    error: str = ""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionManager:
    def __init__(self, key: bytes, identity: IdentityService, clock: Clock, lifetime: int = SESSION_SECONDS) -> None:
        if len(key) < 32:
            raise ValueError("the console session key must be at least 32 bytes")
        # One key per use, so a value made for one purpose is never accepted for another.
        self._mac_key = hmac.digest(key, b"cookie", hashlib.sha256)
        self._csrf_key = hmac.digest(key, b"csrf", hashlib.sha256)
        self._fp_key = hmac.digest(key, b"secret-fingerprint", hashlib.sha256)
        self._identity = identity
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

    # --- identity -----------------------------------------------------------------------------

    def _fingerprint(self, access_key_id: str, secret: str) -> str:
        return _b64(hmac.digest(self._fp_key, f"{access_key_id}\0{secret}".encode(), hashlib.sha256)[:16])

    def log_on(self, access_key_id: str, secret: str) -> LogOnResult:
        """Check a pair the way the API does (constant-time compare); a new session id on success."""
        access_key_id = access_key_id.strip()
        if not access_key_id or not secret:
            return LogOnResult(None, WRONG_CREDENTIALS)
        try:
            cred = self._identity.credential(access_key_id)
        except errors.AccessKeyNotFound:
            # Compare anyway, so an unknown id takes as long as a wrong secret.
            hmac.compare_digest(secret.encode(), secrets.token_urlsafe(24).encode())
            return LogOnResult(None, WRONG_CREDENTIALS)
        if not hmac.compare_digest(cred.secret.encode(), secret.encode()):
            return LogOnResult(None, WRONG_CREDENTIALS)
        if not cred.enabled:
            return LogOnResult(None, DISABLED_CREDENTIALS)
        now = self.now()
        return LogOnResult(
            Session(
                sid=secrets.token_urlsafe(18),
                issued_at=now,
                expires_at=now + self.lifetime,
                access_key_id=cred.access_key_id,
                account_uid=cred.account_uid,
                fingerprint=self._fingerprint(cred.access_key_id, cred.secret),
            )
        )

    def still_valid(self, session: Session) -> Ended | None:
        """Why a signed-in session is no longer good, or None: checked on every request."""
        if self.expired(session):
            return Ended.EXPIRED
        try:
            cred = self._identity.credential(session.access_key_id)
        except errors.AccessKeyNotFound:
            return Ended.REVOKED
        if not cred.enabled:
            return Ended.DISABLED
        fingerprint = self._fingerprint(cred.access_key_id, cred.secret)
        if cred.account_uid != session.account_uid or not hmac.compare_digest(fingerprint, session.fingerprint):
            return Ended.REKEYED
        return None
