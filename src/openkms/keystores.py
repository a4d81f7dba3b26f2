"""Key store kinds: how a ``[[keystores]]`` entry becomes a key store (part of the composition root).

An entry's ``kind`` (default ``"pkcs11"``) picks its row in ``KINDS``: a factory that opens the
kind's backend from the entry's settings, and what such a backend cannot do, known before it is
opened. Every kind is opened on first use and retried with a growing pause (``LazyBackend``), so a
new kind of key store is one factory and one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from openkms.crypto import pkcs11
from openkms.crypto.lazy import LazyBackend, TokenBackend
from openkms.crypto.pkcs11_module import TokenConfig
from openkms.domain import errors
from openkms.domain.algorithms import Capabilities
from openkms.domain.ports import Clock
from openkms.domain.specs import ProtectionLevel
from openkms.service.backends import KeyStore
from openkms.settings import KeyStoreSettings, SettingsError


@dataclass(frozen=True)
class KeyStoreKind:
    open: Callable[[KeyStoreSettings], TokenBackend]  # BackendUnavailable when it cannot be opened
    capabilities: Capabilities  # what its backends cannot do, known without opening one
    protection_level: ProtectionLevel = ProtectionLevel.HSM


def token_config(ks: KeyStoreSettings) -> TokenConfig:
    """A PKCS#11 key store's token; its PIN read now (an unreadable PIN: BackendUnavailable)."""
    try:
        pin = ks.read_pin()
    except SettingsError as exc:
        raise errors.BackendUnavailable(str(exc)) from None
    return TokenConfig(ks.module, ks.token_label, pin, ks.softhsm2_conf)


def _pkcs11(ks: KeyStoreSettings) -> TokenBackend:
    return pkcs11.Pkcs11Backend(token_config(ks), store_id=ks.id)


KINDS: dict[str, KeyStoreKind] = {
    "pkcs11": KeyStoreKind(_pkcs11, pkcs11.CAPABILITIES),
}


def key_store(ks: KeyStoreSettings, clock: Clock, retry_seconds: float, retry_max_seconds: float) -> KeyStore:
    """The key store an entry configures, opened on first use (again after a failure, on ``clock``)."""
    kind = KINDS[ks.kind]
    backend = LazyBackend(
        ks.id, lambda: kind.open(ks), clock, retry_seconds, retry_max_seconds, capabilities=kind.capabilities
    )
    return KeyStore(ks.id, kind.protection_level, backend, ks.description, inventory=backend)
