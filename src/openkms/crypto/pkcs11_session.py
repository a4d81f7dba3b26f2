"""PKCS#11 sessions for the HSM backend and sealer: one login per token, a pool of sessions with
an object-handle cache, and the translation of the binding's errors into domain errors.

What this design answers (measured with SoftHSM2 2.6.1 and python-pkcs11 0.10.1, which releases
the GIL around every PKCS#11 call):

* Login state belongs to the application, not to a session: ``C_Logout`` on any session logs out
  every session of the process, and python-pkcs11's ``Session.close()`` calls ``C_Logout`` for a
  session opened with a PIN. So each token is logged in once, through one session kept open for
  the life of its users; the working sessions are opened without a PIN (they inherit the login),
  are pooled, and are closed only when the last user of the token lets go. A lost login (someone
  else logged out) or a lost session is noticed before use (C_GetSessionInfo) and repaired.
* A login costs about 2 ms (SoftHSM2 derives the PIN key); opening a session on a logged-in token
  costs microseconds, but finding an object and wrapping it in python-pkcs11 costs a few
  attribute reads: each pooled session keeps the objects it found, keyed by (CKA_ID, class).
* The module itself is initialised once per process with OS locking (``pkcs11_module.py``).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from openkms.crypto.pkcs11_module import (
    CKS_RO_USER_FUNCTIONS,
    CKS_RW_USER_FUNCTIONS,
    Library,
    TokenConfig,
    binding,
    describe,
    library,
    registry_lock,
)
from openkms.domain import errors

__all__ = ["PooledSession", "TokenConfig", "TokenSessions", "open_token", "release"]

log = logging.getLogger("openkms.crypto.pkcs11")

T = TypeVar("T")
_MAX_CACHED_OBJECTS = 4096


# --- sessions --------------------------------------------------------------------------------------


class _Missing(Exception):
    """No object with the requested CKA_ID and class in the token."""

    def __init__(self, object_id: bytes) -> None:
        super().__init__()
        self.object_id = object_id


class PooledSession:
    """A working session (opened without a PIN) and the objects it has found."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._objects: OrderedDict[tuple[bytes, int], Any] = OrderedDict()

    def find(self, object_id: bytes, object_class: Any) -> Any:
        """The object with this CKA_ID and class; _Missing if the token has none (``call`` reports it)."""
        key = (object_id, int(object_class))
        obj = self._objects.get(key)
        if obj is not None:
            self._objects.move_to_end(key)
            return obj
        from pkcs11 import Attribute

        found = list(self.session.get_objects({Attribute.ID: object_id, Attribute.CLASS: object_class}))
        if len(found) != 1:
            raise _Missing(object_id)
        if len(self._objects) >= _MAX_CACHED_OBJECTS:
            self._objects.popitem(last=False)
        self._objects[key] = found[0]
        return found[0]

    def forget(self) -> None:
        self._objects.clear()


class TokenSessions:
    """The sessions of one token in this process: logged in once, shared by every user."""

    def __init__(self, lib: Library, config: TokenConfig, max_sessions: int) -> None:
        self._lib = lib
        self._config = config
        self._max = max_sessions
        self._cond = threading.Condition()
        self._idle: list[PooledSession] = []
        self._open = 0
        self._users = 0
        self.pid = os.getpid()
        pkcs11 = binding()
        label = config.token_label
        try:
            self._token: Any = lib.lib.get_token(token_label=label)
        except pkcs11.NoSuchToken:
            raise errors.BackendUnavailable(f"The PKCS#11 token {label!r} is not present.") from None
        except pkcs11.PKCS11Error as exc:
            raise errors.BackendUnavailable(f"The PKCS#11 token {label!r} is unreachable ({describe(exc)}).") from None
        self._holders: list[Any] = []
        self._login()

    @property
    def label(self) -> str:
        return self._config.token_label

    def _login(self) -> None:
        """Log the application in, through a session that stays open (closing it logs out).
        (When C_Login fails, python-pkcs11 leaves the session it opened for it open.)"""
        pkcs11 = binding()
        try:
            self._holders.append(self._token.open(rw=True, user_pin=self._config.pin))
        except pkcs11.UserAlreadyLoggedIn:
            self._holders.append(self._token.open(rw=True))
        except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange, pkcs11.PinLocked, pkcs11.PinExpired) as exc:
            raise errors.BackendUnavailable(
                f"Login to the PKCS#11 token {self.label!r} failed ({describe(exc)})."
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise errors.BackendUnavailable(
                f"The PKCS#11 token {self.label!r} is unreachable ({describe(exc)})."
            ) from None

    def _relogin(self, pooled: PooledSession) -> None:
        """Log in again if the application is logged out (serialised: one thread logs in)."""
        with self._cond:
            if not self.logged_in(pooled):
                log.warning("PKCS#11 token %r lost its login; logging in again", self.label)
                self._login()

    @contextmanager
    def session(self) -> Iterator[PooledSession]:
        if self.pid != os.getpid():
            raise errors.BackendUnavailable(
                "This PKCS#11 key store was opened before the process forked; open it in the worker."
            )
        pkcs11 = binding()
        with self._cond:
            while not self._idle and self._open >= self._max:
                self._cond.wait()
            pooled = self._idle.pop() if self._idle else None
            if pooled is None:
                self._open += 1
        try:
            pooled = self._live(pooled)
        except BaseException:
            with self._cond:  # the session is dead and none could be opened in its place
                self._open -= 1
                self._cond.notify()
            raise
        healthy = True
        try:
            if not self.logged_in(pooled):  # someone logged the application out
                self._relogin(pooled)
            yield pooled
        except (pkcs11.SessionHandleInvalid, pkcs11.SessionClosed, pkcs11.DeviceRemoved, pkcs11.TokenNotPresent):
            healthy = False
            raise
        finally:
            with self._cond:
                if healthy:
                    self._idle.append(pooled)
                else:
                    self._open -= 1
                self._cond.notify()

    def _live(self, pooled: PooledSession | None) -> PooledSession:
        """``pooled`` if its handle still names a session, else a new session."""
        if pooled is not None and self._lib.session_state(pooled.session.handle) is not None:
            return pooled
        pkcs11 = binding()
        try:
            return PooledSession(self._token.open(rw=True))
        except pkcs11.PKCS11Error as exc:
            raise errors.BackendUnavailable(
                f"The PKCS#11 token {self.label!r} opened no session ({describe(exc)})."
            ) from None

    def logged_in(self, pooled: PooledSession) -> bool:
        return self._lib.session_state(pooled.session.handle) in (CKS_RO_USER_FUNCTIONS, CKS_RW_USER_FUNCTIONS)

    def call(self, what: str, operation: Callable[[PooledSession], T]) -> T:
        """Run ``operation`` on a pooled session. Stale handles, a lost session or a lost login are
        repaired (twice at most); any other error of the binding becomes a domain error (nothing
        foreign crosses the port)."""
        pkcs11 = binding()
        for attempt in range(3):
            last = attempt == 2
            try:
                with self.session() as pooled:
                    try:
                        return operation(pooled)
                    except (pkcs11.ObjectHandleInvalid, pkcs11.KeyHandleInvalid):
                        pooled.forget()  # destroyed by another process, or a stale handle
                        if last:
                            raise
                    except _Missing as missing:
                        # Private objects are invisible to a logged-out application.
                        if last or self.logged_in(pooled):
                            name = missing.object_id.decode("ascii", "replace")
                            raise errors.KeyObjectMissing(f"the key named {name}") from None
                        self._relogin(pooled)
                    except pkcs11.UserNotLoggedIn:
                        if last:
                            raise errors.BackendUnavailable(
                                f"The PKCS#11 token {self.label!r} lost its login."
                            ) from None
                        self._relogin(pooled)
            except (pkcs11.SessionHandleInvalid, pkcs11.SessionClosed):
                if last:
                    raise errors.BackendUnavailable(f"The PKCS#11 token {self.label!r} lost its sessions.") from None
            except pkcs11.PKCS11Error as exc:
                log.warning("PKCS#11 %s failed on token %r: %s", what, self.label, describe(exc))
                raise errors.BackendUnavailable(
                    f"The PKCS#11 token {self.label!r} failed to {what} ({describe(exc)})."
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _close_all(self) -> None:
        pkcs11 = binding()
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for pooled in idle:  # opened without a PIN: closing them does not log out
            with suppress(pkcs11.PKCS11Error):
                pooled.session.close()
        holders, self._holders = self._holders, []
        for holder in holders:  # the login sessions last: this closing logs the application out
            with suppress(pkcs11.PKCS11Error):
                holder.close()


_pools: dict[tuple[str, str], TokenSessions] = {}


def open_token(config: TokenConfig, max_sessions: int = 32) -> TokenSessions:
    """The process-wide sessions of ``config``'s token; pair every call with ``release``."""
    with registry_lock:
        lib = library(config)
        key = (lib.module_path, config.token_label)
        pool = _pools.get(key)
        if pool is not None and pool.pid != os.getpid():
            pool = None  # inherited from the parent of a fork: this process opens its own
        if pool is not None and not hmac.compare_digest(pool._config.pin.encode(), config.pin.encode()):
            # The token is logged in already; a second login could not check this PIN.
            raise errors.BackendUnavailable(
                f"The PKCS#11 token {config.token_label!r} is open in this process with another PIN."
            )
        if pool is None:
            pool = _pools[key] = TokenSessions(lib, config, max_sessions)
            lib.users += 1
        pool._users += 1
        return pool


def release(pool: TokenSessions) -> None:
    """One user of the token is done; the last one closes its sessions and logs out."""
    with registry_lock:
        pool._users -= 1
        if pool._users > 0:
            return
        key = (pool._lib.module_path, pool.label)
        if _pools.get(key) is pool:
            del _pools[key]
            pool._lib.users -= 1
        pool._close_all()
