"""ctypes bindings to the few OpenSSL 3 libcrypto functions that ``sm2.py`` needs.

Every pointer crosses as ``c_void_p`` (a Python ``int`` or ``None``), never as a plain ``int``
argument, so 64-bit addresses are not truncated. The library is loaded once, lazily, on first use:
importing this module never fails, even on a system without OpenSSL 3.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable
from ctypes import POINTER, c_char_p, c_int, c_long, c_size_t, c_uint, c_ulong, c_void_p
from typing import Any

_SONAME = "libcrypto.so.3"
_MIN_VERSION = 0x30000000

_P = POINTER(c_void_p)
_SIGNATURES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "OpenSSL_version_num": (c_ulong, ()),
    "ERR_clear_error": (None, ()),
    "ERR_peek_error": (c_ulong, ()),
    "EVP_MD_fetch": (c_void_p, (c_void_p, c_char_p, c_char_p)),
    "EVP_Digest": (c_int, (c_char_p, c_size_t, c_void_p, POINTER(c_uint), c_void_p, c_void_p)),
    "EVP_PKEY_free": (None, (c_void_p,)),
    "EVP_PKEY_is_a": (c_int, (c_void_p, c_char_p)),
    "EVP_PKEY_get_octet_string_param": (c_int, (c_void_p, c_char_p, c_void_p, c_size_t, POINTER(c_size_t))),
    "EVP_PKEY_set_utf8_string_param": (c_int, (c_void_p, c_char_p, c_char_p)),
    "EVP_PKEY_CTX_new_from_name": (c_void_p, (c_void_p, c_char_p, c_char_p)),
    "EVP_PKEY_CTX_new_from_pkey": (c_void_p, (c_void_p, c_void_p, c_char_p)),
    "EVP_PKEY_CTX_free": (None, (c_void_p,)),
    "EVP_PKEY_keygen_init": (c_int, (c_void_p,)),
    "EVP_PKEY_generate": (c_int, (c_void_p, _P)),
    "EVP_PKEY_public_check_quick": (c_int, (c_void_p,)),
    "EVP_PKEY_private_check": (c_int, (c_void_p,)),
    "EVP_PKEY_pairwise_check": (c_int, (c_void_p,)),
    "EVP_PKEY_sign_init": (c_int, (c_void_p,)),
    "EVP_PKEY_sign": (c_int, (c_void_p, c_void_p, POINTER(c_size_t), c_char_p, c_size_t)),
    "EVP_PKEY_verify_init": (c_int, (c_void_p,)),
    "EVP_PKEY_verify": (c_int, (c_void_p, c_char_p, c_size_t, c_char_p, c_size_t)),
    "EVP_PKEY_encrypt_init": (c_int, (c_void_p,)),
    "EVP_PKEY_encrypt": (c_int, (c_void_p, c_void_p, POINTER(c_size_t), c_char_p, c_size_t)),
    "EVP_PKEY_decrypt_init": (c_int, (c_void_p,)),
    "EVP_PKEY_decrypt": (c_int, (c_void_p, c_void_p, POINTER(c_size_t), c_char_p, c_size_t)),
    "d2i_PUBKEY": (c_void_p, (c_void_p, _P, c_long)),
    "i2d_PUBKEY": (c_int, (c_void_p, _P)),
    "d2i_PKCS8_PRIV_KEY_INFO": (c_void_p, (c_void_p, _P, c_long)),
    "i2d_PKCS8_PRIV_KEY_INFO": (c_int, (c_void_p, _P)),
    "PKCS8_PRIV_KEY_INFO_free": (None, (c_void_p,)),
    "EVP_PKCS82PKEY": (c_void_p, (c_void_p,)),
    "EVP_PKEY2PKCS8": (c_void_p, (c_void_p,)),
}


class Libcrypto:
    """Typed handles on the bound functions. Pointers are ``int | None``; ``None`` means NULL."""

    OpenSSL_version_num: Callable[[], int]
    ERR_clear_error: Callable[[], None]
    ERR_peek_error: Callable[[], int]  # lets tests assert that failures leave the error queue empty
    EVP_MD_fetch: Callable[..., int | None]
    EVP_Digest: Callable[..., int]
    EVP_PKEY_free: Callable[[int | None], None]
    EVP_PKEY_is_a: Callable[[int, bytes], int]
    EVP_PKEY_get_octet_string_param: Callable[..., int]
    EVP_PKEY_set_utf8_string_param: Callable[[int, bytes, bytes], int]
    EVP_PKEY_CTX_new_from_name: Callable[..., int | None]
    EVP_PKEY_CTX_new_from_pkey: Callable[..., int | None]
    EVP_PKEY_CTX_free: Callable[[int | None], None]
    EVP_PKEY_keygen_init: Callable[[int], int]
    EVP_PKEY_generate: Callable[..., int]
    EVP_PKEY_public_check_quick: Callable[[int], int]
    EVP_PKEY_private_check: Callable[[int], int]
    EVP_PKEY_pairwise_check: Callable[[int], int]
    EVP_PKEY_sign_init: Callable[[int], int]
    EVP_PKEY_sign: Callable[..., int]
    EVP_PKEY_verify_init: Callable[[int], int]
    EVP_PKEY_verify: Callable[..., int]
    EVP_PKEY_encrypt_init: Callable[[int], int]
    EVP_PKEY_encrypt: Callable[..., int]
    EVP_PKEY_decrypt_init: Callable[[int], int]
    EVP_PKEY_decrypt: Callable[..., int]
    d2i_PUBKEY: Callable[..., int | None]
    i2d_PUBKEY: Callable[..., int]
    d2i_PKCS8_PRIV_KEY_INFO: Callable[..., int | None]
    i2d_PKCS8_PRIV_KEY_INFO: Callable[..., int]
    PKCS8_PRIV_KEY_INFO_free: Callable[[int | None], None]
    EVP_PKCS82PKEY: Callable[[int], int | None]
    EVP_PKEY2PKCS8: Callable[[int], int | None]

    def __init__(self, cdll: ctypes.CDLL) -> None:
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(cdll, name)  # AttributeError when the symbol is missing (OpenSSL < 3)
            function.restype = restype
            function.argtypes = list(argtypes)
            setattr(self, name, function)


_lock = threading.Lock()
_loaded: Libcrypto | None = None


def load() -> Libcrypto:
    """The system libcrypto (OpenSSL >= 3.0), bound once. Raises OSError when it cannot be used."""
    global _loaded  # noqa: PLW0603 - a process-wide, load-once handle
    with _lock:
        if _loaded is None:
            problems: list[str] = []
            for name in dict.fromkeys([ctypes.util.find_library("crypto") or _SONAME, _SONAME]):
                try:
                    lib = Libcrypto(ctypes.CDLL(name))
                except (OSError, AttributeError) as exc:  # AttributeError: a symbol OpenSSL < 3 lacks
                    problems.append(f"{name}: {exc}")
                    continue
                if lib.OpenSSL_version_num() >= _MIN_VERSION:
                    _loaded = lib
                    break
                problems.append(f"{name}: older than OpenSSL 3.0")
            else:
                raise OSError("no usable OpenSSL 3 libcrypto: " + "; ".join(problems))
        return _loaded
