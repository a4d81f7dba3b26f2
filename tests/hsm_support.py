"""A SoftHSM2 token shared by the tests of one process.

SoftHSM2 reads its configuration (the token directory) once per process, in C_Initialize, so the
in-process tests share one token; tests that need a fresh data directory run in a subprocess.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest

from openkms.crypto import softhsm
from openkms.crypto.pkcs11_module import TokenConfig
from openkms.crypto.sealing import AesGcmSealer, new_root_key

SOFTHSM_AVAILABLE, SOFTHSM_REASON = softhsm.available()
requires_softhsm = pytest.mark.skipif(not SOFTHSM_AVAILABLE, reason=SOFTHSM_REASON)

_lock = threading.Lock()
_shared: dict[str, object] = {}


def shared_token() -> TokenConfig:
    """The process's test token (created on first use, in a temporary data directory)."""
    with _lock:
        if "token" not in _shared:
            home = tempfile.TemporaryDirectory(prefix="openkms-softhsm-")
            _shared["home"] = home  # removed when the process ends
            _shared["token"] = softhsm.ensure_token(Path(home.name) / "data", AesGcmSealer(new_root_key()))
        token = _shared["token"]
        assert isinstance(token, TokenConfig)
        return token


def extra_token(label: str, user_pin: str) -> TokenConfig:
    """Another token in the shared SoftHSM2 directory (created on first use), for tests that need
    one nothing else in the process has logged in to: a wrong PIN then really reaches C_Login."""
    from openkms.crypto.pkcs11_module import with_module

    config = shared_token()

    def create(lib: object) -> None:
        if not any(t.label == label for t in lib.get_tokens()):  # type: ignore[attr-defined]
            softhsm._initialise(lib, config.module_path, label, {"user": user_pin, "so": "so-" + user_pin})

    with_module(config, create)
    return TokenConfig(config.module_path, label, user_pin, config.softhsm2_conf)
