"""SoftHSM2 out of the box: a token of openkms's own inside the data directory.

Layout under ``DATA_DIR/softhsm`` (directories 0700, files 0600)::

    softhsm2.conf   directories.tokendir = DATA_DIR/softhsm/tokens, objectstore.backend = file
    tokens/         SoftHSM2's token files (key objects are encrypted there under the user PIN)
    pin.sealed      the user and SO PINs, sealed under the root key (never in clear on disk)
    .lock           serialises initialisation between processes starting at once

The token is initialised in-process through PKCS#11 (C_InitToken, C_InitPIN), so the PINs never
appear on a command line either. SoftHSM2 reads SOFTHSM2_CONF once, in C_Initialize: a process
uses one SoftHSM2 token directory at a time.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from openkms.crypto.pkcs11_module import TokenConfig, init_token, with_module
from openkms.domain import errors
from openkms.domain.ports import Sealer

log = logging.getLogger("openkms.crypto.softhsm")

TOKEN_LABEL = "openkms"  # noqa: S105 - a label, not a secret
MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
HOW_TO_ENABLE = (
    "To use ProtectionLevel HSM, install the softhsm2 package (for example `apt-get install softhsm2`) "
    "or configure a PKCS#11 key store."
)
_PIN_FILE = "pin.sealed"
_PENDING_PIN_FILE = "pin.sealed.new"


def _pin_aad(label: str) -> bytes:
    return b"softhsm2-token-pins:" + label.encode()


def find_module(candidates: Iterable[str] | None = None) -> str | None:
    """The path of libsofthsm2.so: a well-known location, else what dpkg says it installed."""
    for path in MODULE_CANDIDATES if candidates is None else candidates:
        if os.path.isfile(path):
            return path
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        return None
    for package in ("softhsm2", "libsofthsm2"):
        try:
            listing = subprocess.run(
                [dpkg, "-L", package], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in listing.splitlines():
            if line.endswith("/libsofthsm2.so") and os.path.isfile(line):
                return line
    return None


def available(candidates: Iterable[str] | None = None) -> tuple[bool, str]:
    """(True, module path) when SoftHSM2 can serve; else (False, what is missing and how to fix it)."""
    # Found, not imported: the binding is imported when a token is first used, not at every start.
    if importlib.util.find_spec("pkcs11") is None:
        return False, f"The python-pkcs11 package is not installed. {HOW_TO_ENABLE}"
    module = find_module(candidates)
    if module is None:
        return False, f"SoftHSM2 is not installed. {HOW_TO_ENABLE}"
    return True, module


def token_created(data_dir: Path | str) -> bool:
    """Whether this data directory's token has been created (its sealed PIN is written last)."""
    return (Path(data_dir).resolve() / "softhsm" / _PIN_FILE).exists()


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable by the owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _conf_text(tokens: Path) -> str:
    return (
        "# Written by openkms: the SoftHSM2 configuration of this data directory.\n"
        f"directories.tokendir = {tokens}\n"
        "objectstore.backend = file\n"
        "objectstore.umask = 0077\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )


def ensure_token(
    data_dir: Path | str, sealer: Sealer, label: str = TOKEN_LABEL, module_path: str | None = None
) -> TokenConfig:
    """The token of this data directory, created on first use with random PINs sealed under
    ``sealer``. Raises UnsupportedProtectionLevel when SoftHSM2 is missing."""
    if module_path is None:
        ok, found = available()
        if not ok:
            raise errors.UnsupportedProtectionLevel(found)
        module_path = found
    home = Path(data_dir).resolve() / "softhsm"
    tokens = home / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    os.chmod(tokens, 0o700)
    conf = home / "softhsm2.conf"
    with open(home / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not conf.exists() or conf.read_text() != _conf_text(tokens):
                _write_private(conf, _conf_text(tokens).encode())
            return _ensure_locked(home, str(conf), module_path, label, sealer)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _ensure_locked(home: Path, conf: str, module_path: str, label: str, sealer: Sealer) -> TokenConfig:
    pin_file, pending = home / _PIN_FILE, home / _PENDING_PIN_FILE
    probe = TokenConfig(module_path, label, "", conf)
    exists = with_module(probe, lambda lib: _has_token(lib, label))
    if pin_file.exists():
        pins = _unseal_pins(pin_file.read_bytes(), sealer, label)
        if not exists:
            raise errors.BackendUnavailable(
                f"The SoftHSM2 token {label!r} of this data directory is missing from {home / 'tokens'}."
            )
        return TokenConfig(module_path, label, pins["user"], conf)
    if pending.exists():  # a crash came between sealing the PINs and initialising the token
        pins = _unseal_pins(pending.read_bytes(), sealer, label)
    elif exists:
        raise errors.BackendUnavailable(
            f"The SoftHSM2 token {label!r} exists in {home / 'tokens'} but its sealed PIN ({_PIN_FILE}) is missing."
        )
    else:
        pins = {"user": secrets.token_urlsafe(24), "so": secrets.token_urlsafe(24)}
        _write_private(pending, sealer.seal(json.dumps(pins).encode(), _pin_aad(label)))
    if not exists:
        with_module(probe, lambda lib: _initialise(lib, module_path, label, pins))
        log.info("initialised SoftHSM2 token %r in %s", label, home / "tokens")
    os.replace(pending, pin_file)
    return TokenConfig(module_path, label, pins["user"], conf)


def _unseal_pins(sealed: bytes, sealer: Sealer, label: str) -> dict[str, str]:
    pins = json.loads(sealer.unseal(sealed, _pin_aad(label)))
    if not isinstance(pins, dict) or not isinstance(pins.get("user"), str):
        raise errors.IntegrityError("SoftHSM2 PIN")
    return pins


def _has_token(lib: Any, label: str) -> bool:
    return any(token.label == label for token in lib.get_tokens())


def _initialise(lib: Any, module_path: str, label: str, pins: dict[str, str]) -> None:
    free = [slot for slot in lib.get_slots(token_present=True) if not _initialised(slot)]
    if not free:
        raise errors.BackendUnavailable("SoftHSM2 offers no free slot to initialise a token in.")
    init_token(module_path, free[0].slot_id, pins["so"], label)
    token = lib.get_token(token_label=label)
    with token.open(rw=True, so_pin=pins["so"]) as session:  # closing logs the SO out
        session.init_pin(pins["user"])


def _initialised(slot: Any) -> bool:
    from pkcs11 import TokenFlag

    return bool(slot.get_token().flags & TokenFlag.TOKEN_INITIALIZED)
