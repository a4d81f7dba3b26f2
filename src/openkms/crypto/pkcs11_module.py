"""The PKCS#11 module, loaded once per process and initialised with OS locking.

python-pkcs11 calls ``C_Initialize(NULL)``, which tells the module that the application will not
call it from several threads; SoftHSM2 then disables its mutexes, and threads using their own
sessions at once crash the process (measured: segmentation fault, or CKR_GENERAL_ERROR, with 4
threads signing). This module calls ``C_Initialize`` itself with ``CKF_OS_LOCKING_OK`` (through
ctypes, on the module's own function list) and keeps python-pkcs11 from initialising again.
It also offers what python-pkcs11 lacks: C_InitToken and C_GetSessionInfo.

The binding is python-pkcs11 (0.10.1) rather than PyKCS11 (1.5.20): PyKCS11's SWIG wrapper holds
the GIL through every PKCS#11 call, so threads never overlap in the token. Measured on SoftHSM2
with RSA-2048 signing, per-thread time blocked (neither running nor waiting for a CPU): PyKCS11
34% with 2 threads, 65% with 4; python-pkcs11 with OS locking 2% and 2%. python-pkcs11 also
carries the GCM, PSS, OAEP and ECB-derivation parameters this backend needs, and type hints.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from openkms.domain import errors

T = TypeVar("T")

CKF_OS_LOCKING_OK = 0x00000002
CKR_OK = 0x0
CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191


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
    try:
        dll = ctypes.CDLL(module_path)
        get_function_list = dll.C_GetFunctionList
    except (OSError, AttributeError):
        raise errors.BackendUnavailable(f"{module_path} cannot be loaded as a PKCS#11 module.") from None
    pointer = ctypes.POINTER(_FunctionList)()
    rv = get_function_list(ctypes.byref(pointer))
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


def binding() -> Any:
    try:
        import pkcs11
    except ImportError:  # pragma: no cover - a declared dependency
        raise errors.BackendUnavailable("The python-pkcs11 package is not installed.") from None
    return pkcs11


class Library:
    """The loaded module of one path in this process."""

    def __init__(self, module_path: str, softhsm2_conf: str | None) -> None:
        pkcs11 = binding()
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
            raise errors.BackendUnavailable(f"The PKCS#11 module cannot be loaded ({describe(exc)}).") from None

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


_libraries: dict[str, Library] = {}
registry_lock = threading.Lock()


def library(config: TokenConfig) -> Library:
    """The module for ``config``, initialised once per process (caller holds ``registry_lock``)."""
    path = os.path.realpath(config.module_path)
    if not os.path.isfile(path):
        raise errors.BackendUnavailable(f"The PKCS#11 module {config.module_path} does not exist.")
    lib = _libraries.get(path)
    if lib is None:
        lib = _libraries[path] = Library(path, config.softhsm2_conf)
    elif lib.pid != os.getpid():
        # A forked child inherits the parent's module state; PKCS#11 asks it to initialise anew.
        lib.reinitialize(config.softhsm2_conf)
        lib.users = 0  # the sessions of the parent are not this process's
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
    pkcs11 = binding()
    with registry_lock:
        lib = library(config)
        try:
            return action(lib.lib)
        except pkcs11.PKCS11Error as exc:
            raise errors.BackendUnavailable(f"The PKCS#11 module failed ({describe(exc)}).") from None


def describe(exc: BaseException) -> str:
    """The error's class name (the CKR code's name), never its arguments."""
    return type(exc).__name__
