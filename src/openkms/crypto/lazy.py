"""A backend that connects on first use, and again after a failure: a key store whose token is
unreachable answers ServiceUnavailableTemporary for its own keys while openkms keeps serving
every other store. It also keeps HSM libraries out of processes that never use them.

After a failed connection the store is tried again after ``retry_seconds``, then after twice
that, and so on up to ``retry_max_seconds``; requests in between get the 503 at once, without
touching the token. The pause grows because a failed login is not free: HSMs count wrong PINs
and lock the user out after a few, and every worker of every node would otherwise try one
every few seconds. Time comes from the injected clock (tests move it, never sleep). The
failure is logged once (again only if its reason changes), and the recovery once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from openkms.domain import errors
from openkms.domain.algorithms import Capabilities
from openkms.domain.ports import (
    AsymmetricCrypto,
    Clock,
    CryptoBackend,
    HeldObject,
    KeyWrapping,
    ObjectInventory,
    SymmetricCrypto,
)

log = logging.getLogger("openkms.crypto.keystore")

RETRY_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
_MAX_DOUBLINGS = 32  # 5 s * 2**32 is far past any cap: no float overflow however long it fails


class TokenBackend(CryptoBackend, ObjectInventory, Protocol):
    """A backend whose material lives in a token: it can also list and destroy its objects."""


def _operations(*ports: type) -> frozenset[str]:
    return frozenset(name for port in ports for name in vars(port) if not name.startswith("_"))


# What LazyBackend runs on the connected backend: every operation of these ports, and discard.
_DELEGATED = _operations(SymmetricCrypto, AsymmetricCrypto, KeyWrapping) | {"discard"}


class LazyBackend:
    def __init__(
        self,
        name: str,
        connect: Callable[[], TokenBackend],
        clock: Clock,
        retry_seconds: float = RETRY_SECONDS,
        retry_max_seconds: float = RETRY_MAX_SECONDS,
        present: Callable[[], bool] | None = None,
        capabilities: Capabilities | None = None,
    ) -> None:
        self._name = name
        self._connect = connect
        self._clock = clock
        self._retry = retry_seconds
        self._retry_max = max(retry_seconds, retry_max_seconds)
        # False while the store's token does not exist yet: listing its objects must not create it
        # (openkms's own SoftHSM2 token is created on first use).
        self._present = present
        self._capabilities = capabilities if capabilities is not None else Capabilities()
        self._backend: TokenBackend | None = None
        self._failures = 0
        self._failed_at = 0.0
        self._retry_at = 0.0
        self._failure = ""
        self._lock = threading.Lock()

    def _get(self) -> TokenBackend:
        backend = self._backend
        if backend is not None:
            return backend
        with self._lock:
            if self._backend is not None:
                return self._backend
            now = self._clock.now()
            # A clock set back (now before the failure) retries at once rather than wait longer.
            if self._failures and self._failed_at <= now < self._retry_at:
                raise errors.BackendUnavailable(self._failure)
            try:
                connected = self._connect()
            except errors.UnsupportedProtectionLevel:
                raise
            except errors.KmsError as exc:
                self._failed(exc, now)
                raise errors.BackendUnavailable(self._failure) from None
            if self._failures:
                log.info("key store %s is reachable again (after %d failed attempts)", self._name, self._failures)
            self._failures = 0
            self._failure = ""
            self._backend = connected
            return connected

    def _failed(self, exc: errors.KmsError, now: float) -> None:
        """Record a failed connection (the caller holds the lock) and schedule the next attempt."""
        pause = min(self._retry * 2 ** min(self._failures, _MAX_DOUBLINGS), self._retry_max)
        failure = f"The key store {self._name} is unreachable: {exc.message}"
        if failure != self._failure:  # messages name PIN sources and CKR codes, never a PIN
            log.warning(
                "key store %s is unreachable: %s (its keys answer ServiceUnavailableTemporary; retrying "
                "after %g s, then less and less often, at most every %g s)",
                self._name,
                exc.message,
                pause,
                self._retry_max,
            )
        self._failures += 1
        self._failure = failure
        self._failed_at = now
        self._retry_at = now + pause

    # --- CryptoBackend: the operations connect if needed, then delegate ---------------------------

    def __getattr__(self, name: str) -> Any:
        """An operation of the port (``_DELEGATED``), run on the connected backend."""
        if name not in _DELEGATED:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

        def operation(*args: Any, **kwargs: Any) -> Any:
            return getattr(self._get(), name)(*args, **kwargs)

        operation.__name__ = name
        return operation

    def capabilities(self) -> Capabilities:
        """Known without connecting: an unreachable store still says what it would offer."""
        return self._capabilities

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    # --- ObjectInventory ---------------------------------------------------------------------------

    def list_objects(self) -> list[HeldObject]:
        if self._present is not None and not self._present():
            return []
        return self._get().list_objects()

    def probe(self) -> None:
        """Connects if needed (within the retry pauses), then asks the token itself."""
        if self._present is not None and not self._present():
            return
        self._get().probe()
