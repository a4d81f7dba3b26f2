"""PKCS#11 plumbing for the HSM backend and sealer: the module loaded once per process with OS
locking, one login per token, a pool of sessions with an object-handle cache, and the translation
of the binding's errors into domain errors.

What this design answers (measured with SoftHSM2 2.6.1 and python-pkcs11 0.10.1, which releases
the GIL around every PKCS#11 call):

* ``C_Initialize(NULL)``, which python-pkcs11 calls, tells the module that the application will
  not call it from several threads; SoftHSM2 then disables its mutexes, and threads using their
  own sessions at once crash the process (segmentation fault, or CKR_GENERAL_ERROR). This module
  therefore calls ``C_Initialize`` itself with ``CKF_OS_LOCKING_OK`` (through ctypes, on the
  module's own function list) and keeps python-pkcs11 from initialising a second time.
* Login state belongs to the application, not to a session: ``C_Logout`` on any session logs out
  every session of the process, and python-pkcs11's ``Session.close()`` calls ``C_Logout`` for a
  session opened with a PIN. So each token is logged in once, through one session kept open for
  the life of the process; the working sessions are opened without a PIN (they inherit the
  login), are pooled, and are closed only when the last user of the token lets go.
* A login costs about 2 ms (SoftHSM2 derives the PIN key); opening a session on a logged-in token
  costs microseconds, but finding an object and wrapping it in python-pkcs11 costs a few
  attribute reads: each pooled session keeps the objects it found, keyed by (CKA_ID, class).
"""

from __future__ import annotations

import ctypes
import hmac
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from openkms.domain import errors

log = logging.getLogger("openkms.crypto.pkcs11")

T = TypeVar("T")

CKF_OS_LOCKING_OK = 0x00000002
CKR_OK = 0x0
CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191
_MAX_CACHED_OBJECTS = 4096


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """Where a key store's token is: module, token label, user PIN (never shown in a repr)."""

    module_path: str
    token_label: str
    pin: str = field(repr=False)
    # SoftHSM2 only: its configuration file, put in SOFTHSM2_CONF before C_Initialize.
    softhsm2_conf: str | None = None


# --- the module, initialised once per process with OS locking ------------------------------------

_CK_RV = ctypes.c_ulong


class _InitArgs(ctypes.Structure):
    _fields_ = (
        ("CreateMutex", ctypes.c_void_p),
        ("DestroyMutex", ctypes.c_void_p),
        ("LockMutex", ctypes.c_void_p),
        ("UnlockMutex", ctypes.c_void_p),
        ("flags", ctypes.c_ulong),
        ("pReserved", ctypes.c_void_p),
    )


class _FunctionList(ctypes.Structure):
    """The head of CK_FUNCTION_LIST: the entries this module calls itself."""

    _fields_ = (
        ("version_major", ctypes.c_ubyte),
        ("version_minor", ctypes.c_ubyte),
        ("C_Initialize", ctypes.CFUNCTYPE(_CK_RV, ctypes.c_void_p)),
        ("C_Finalize", ctypes.CFUNCTYPE(_CK_RV, ctypes.c_void_p)),
        ("C_GetInfo", ctypes.c_void_p),
        ("C_GetFunctionList", ctypes.c_void_p),
        ("C_GetSlotList", ctypes.c_void_p),
        ("C_GetSlotInfo", ctypes.c_void_p),
        ("C_GetTokenInfo", ctypes.c_void_p),
        ("C_GetMechanismList", ctypes.c_void_p),
        ("C_GetMechanismInfo", ctypes.c_void_p),
        (
            "C_InitToken",
            ctypes.CFUNCTYPE(_CK_RV, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p),
        ),
        ("C_InitPIN", ctypes.c_void_p),
        ("C_SetPIN", ctypes.c_void_p),
        ("C_OpenSession", ctypes.c_void_p),
        ("C_CloseSession", ctypes.c_void_p),
        ("C_CloseAllSessions", ctypes.c_void_p),
        ("C_GetSessionInfo", ctypes.CFUNCTYPE(_CK_RV, ctypes.c_ulong, ctypes.c_void_p)),
    )


class _SessionInfo(ctypes.Structure):
    _fields_ = (
        ("slotID", ctypes.c_ulong),
        ("state", ctypes.c_ulong),
        ("flags", ctypes.c_ulong),
        ("ulDeviceError", ctypes.c_ulong),
    )


CKS_RO_USER_FUNCTIONS = 1
CKS_RW_USER_FUNCTIONS = 3


def _function_list(module_path: str) -> _FunctionList:
    # dlopen of the same path returns the handle python-pkcs11 uses: one module state per process.
    dll = ctypes.CDLL(module_path)
    pointer = ctypes.POINTER(_FunctionList)()
    rv = dll.C_GetFunctionList(ctypes.byref(pointer))
    if rv != CKR_OK:
        raise errors.BackendUnavailable(f"The PKCS#11 module gave no function list (CKR {rv:#x}).")
    return pointer.contents


def _initialize_os_locking(module_path: str) -> None:
    args = _InitArgs(None, None, None, None, CKF_OS_LOCKING_OK, None)
    rv = _function_list(module_path).C_Initialize(ctypes.cast(ctypes.byref(args), ctypes.c_void_p))
    if rv not in (CKR_OK, CKR_CRYPTOKI_ALREADY_INITIALIZED):
        raise errors.BackendUnavailable(f"The PKCS#11 module failed to initialise (CKR {rv:#x}).")


def _finalize(module_path: str) -> None:
    _function_list(module_path).C_Finalize(None)


def init_token(module_path: str, slot_id: int, so_pin: str, label: str) -> None:
    """C_InitToken, which python-pkcs11 does not offer (used to create a SoftHSM2 token)."""
    pin = so_pin.encode()
    padded = label.encode().ljust(32, b" ")[:32]
    rv = _function_list(module_path).C_InitToken(slot_id, pin, len(pin), padded)
    if rv != CKR_OK:
        raise errors.BackendUnavailable(f"The PKCS#11 module could not initialise a token (CKR {rv:#x}).")


def _binding() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - a declared dependency
        raise errors.BackendUnavailable("The python-pkcs11 package is not installed.") from None
    return pkcs11


class _Library:
    """The loaded module of one path in this process."""

    def __init__(self, module_path: str, softhsm2_conf: str | None) -> None:
        pkcs11 = _binding()
        from pkcs11 import _pkcs11

        class _OsLockingLib(_pkcs11.lib):
            # python-pkcs11 calls C_Initialize(NULL): no locking. This override runs in its place.
            def initialize(self) -> None:
                _initialize_os_locking(module_path)

        self.module_path = module_path
        self.functions = _function_list(module_path)
        self.softhsm2_conf = softhsm2_conf
        self.pid = os.getpid()
        self.users = 0
        if softhsm2_conf is not None:
            os.environ["SOFTHSM2_CONF"] = softhsm2_conf
        try:
            self.lib: Any = _OsLockingLib(module_path)
        except pkcs11.PKCS11Error as exc:
            raise errors.BackendUnavailable(f"The PKCS#11 module cannot be loaded ({_describe(exc)}).") from None

    def session_state(self, handle: int) -> int | None:
        """The session's state (CKS_*), or None when the handle no longer names a session.
        python-pkcs11 has no C_GetSessionInfo; asking before use also keeps it from touching a
        dead session (its object search then raises from a destructor)."""
        info = _SessionInfo()
        rv = self.functions.C_GetSessionInfo(handle, ctypes.cast(ctypes.byref(info), ctypes.c_void_p))
        return int(info.state) if rv == CKR_OK else None

    def reinitialize(self, softhsm2_conf: str | None) -> None:
        _finalize(self.module_path)
        if softhsm2_conf is not None:
            os.environ["SOFTHSM2_CONF"] = softhsm2_conf
        self.softhsm2_conf = softhsm2_conf
        self.pid = os.getpid()
        _initialize_os_locking(self.module_path)


_libraries: dict[str, _Library] = {}
_registry_lock = threading.Lock()


def _library(config: TokenConfig) -> _Library:
    """The module for ``config``, initialised once per process (caller holds ``_registry_lock``)."""
    path = os.path.realpath(config.module_path)
    if not os.path.isfile(path):
        raise errors.BackendUnavailable(f"The PKCS#11 module {config.module_path} does not exist.")
    lib = _libraries.get(path)
    if lib is None:
        lib = _libraries[path] = _Library(path, config.softhsm2_conf)
    elif lib.pid != os.getpid():
        # A forked child inherits the parent's module state; PKCS#11 asks it to initialise anew.
        lib.reinitialize(config.softhsm2_conf)
        for key in [k for k in _pools if k[0] == path]:
            del _pools[key]
        lib.users = 0
    elif config.softhsm2_conf is not None and lib.softhsm2_conf != config.softhsm2_conf:
        # SoftHSM2 reads its configuration once, in C_Initialize: one token directory per process.
        if lib.users:
            raise errors.BackendUnavailable(
                "SoftHSM2 is already in use in this process with another configuration "
                f"({lib.softhsm2_conf}); a process can use one SoftHSM2 token directory at a time."
            )
        lib.reinitialize(config.softhsm2_conf)
    return lib


def with_module(config: TokenConfig, action: Callable[[Any], T]) -> T:
    """Run ``action(lib)`` on the python-pkcs11 library of ``config`` (for token administration)."""
    pkcs11 = _binding()
    with _registry_lock:
        lib = _library(config)
        try:
            return action(lib.lib)
        except pkcs11.PKCS11Error as exc:
            raise errors.BackendUnavailable(f"The PKCS#11 module failed ({_describe(exc)}).") from None


# --- sessions --------------------------------------------------------------------------------------


class _Missing(Exception):
    """No object with the requested CKA_ID and class in the token."""


class PooledSession:
    """A working session (opened without a PIN) and the objects it has found."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._objects: OrderedDict[tuple[bytes, int], Any] = OrderedDict()

    def find(self, object_id: bytes, object_class: Any) -> Any:
        """The object with this CKA_ID and class; IntegrityError if the token has none."""
        key = (object_id, int(object_class))
        obj = self._objects.get(key)
        if obj is not None:
            self._objects.move_to_end(key)
            return obj
        from pkcs11 import Attribute

        found = list(self.session.get_objects({Attribute.ID: object_id, Attribute.CLASS: object_class}))
        if len(found) != 1:
            raise _Missing()
        if len(self._objects) >= _MAX_CACHED_OBJECTS:
            self._objects.popitem(last=False)
        self._objects[key] = found[0]
        return found[0]

    def forget(self) -> None:
        self._objects.clear()


class TokenSessions:
    """The sessions of one token in this process: logged in once, shared by every user."""

    def __init__(self, lib: _Library, config: TokenConfig, max_sessions: int) -> None:
        self._lib = lib
        self._config = config
        self._max = max_sessions
        self._cond = threading.Condition()
        self._idle: list[PooledSession] = []
        self._open = 0
        self._users = 0
        self.pid = os.getpid()
        pkcs11 = _binding()
        label = config.token_label
        try:
            self._token: Any = lib.lib.get_token(token_label=label)
        except pkcs11.NoSuchToken:
            raise errors.BackendUnavailable(f"The PKCS#11 token {label!r} is not present.") from None
        except pkcs11.PKCS11Error as exc:
            raise errors.BackendUnavailable(f"The PKCS#11 token {label!r} is unreachable ({_describe(exc)}).") from None
        self._holders: list[Any] = []
        self._login()

    @property
    def label(self) -> str:
        return self._config.token_label

    def _login(self) -> None:
        """Log the application in, through a session that stays open (closing it logs out)."""
        pkcs11 = _binding()
        try:
            self._holders.append(self._token.open(rw=True, user_pin=self._config.pin))
        except pkcs11.UserAlreadyLoggedIn:
            self._holders.append(self._token.open(rw=True))
        except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange, pkcs11.PinLocked, pkcs11.PinExpired) as exc:
            raise errors.BackendUnavailable(
                f"Login to the PKCS#11 token {self.label!r} failed ({_describe(exc)})."
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise errors.BackendUnavailable(
                f"The PKCS#11 token {self.label!r} is unreachable ({_describe(exc)})."
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
        pkcs11 = _binding()
        with self._cond:
            while not self._idle and self._open >= self._max:
                self._cond.wait()
            pooled = self._idle.pop() if self._idle else None
            if pooled is None:
                self._open += 1
        try:
            pooled = self._usable(pooled)
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        healthy = True
        try:
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

    def _usable(self, pooled: PooledSession | None) -> PooledSession:
        """A live session of a logged-in application: a dead one is replaced, a lost login renewed."""
        pkcs11 = _binding()
        state = None if pooled is None else self._lib.session_state(pooled.session.handle)
        if state is None:
            try:
                pooled = PooledSession(self._token.open(rw=True))
            except pkcs11.PKCS11Error as exc:
                raise errors.BackendUnavailable(
                    f"The PKCS#11 token {self.label!r} opened no session ({_describe(exc)})."
                ) from None
            state = self._lib.session_state(pooled.session.handle)
        assert pooled is not None
        if state not in (CKS_RO_USER_FUNCTIONS, CKS_RW_USER_FUNCTIONS):
            self._relogin(pooled)
        return pooled

    def logged_in(self, pooled: PooledSession) -> bool:
        return self._lib.session_state(pooled.session.handle) in (CKS_RO_USER_FUNCTIONS, CKS_RW_USER_FUNCTIONS)

    def call(self, what: str, operation: Callable[[PooledSession], T]) -> T:
        """Run ``operation`` on a pooled session. Stale handles, a lost session or a lost login are
        repaired (twice at most); any other error of the binding becomes a domain error (nothing
        foreign crosses the port)."""
        pkcs11 = _binding()
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
                    except _Missing:
                        # Private objects are invisible to a logged-out application.
                        if last or self.logged_in(pooled):
                            raise errors.IntegrityError("HSM key object (not found in the token)") from None
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
                log.warning("PKCS#11 %s failed on token %r: %s", what, self.label, _describe(exc))
                raise errors.BackendUnavailable(
                    f"The PKCS#11 token {self.label!r} failed to {what} ({_describe(exc)})."
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _close_all(self) -> None:
        pkcs11 = _binding()
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
    with _registry_lock:
        lib = _library(config)
        key = (lib.module_path, config.token_label)
        pool = _pools.get(key)
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
    with _registry_lock:
        pool._users -= 1
        if pool._users > 0:
            return
        key = (pool._lib.module_path, pool.label)
        if _pools.get(key) is pool:
            del _pools[key]
            pool._lib.users -= 1
        pool._close_all()


def _describe(exc: BaseException) -> str:
    """The error's class name (the CKR code's name), never its arguments."""
    return type(exc).__name__
