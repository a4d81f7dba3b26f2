"""Which crypto backend serves which keys, chosen once at start-up by the composition root."""

from __future__ import annotations

from collections.abc import Mapping

from openkms.domain import errors
from openkms.domain.keys import Key
from openkms.domain.ports import CryptoBackend
from openkms.domain.specs import ProtectionLevel


class Backends:
    def __init__(
        self,
        available: Mapping[ProtectionLevel, CryptoBackend],
        why_unavailable: Mapping[ProtectionLevel, str] | None = None,
        spec_gaps: Mapping[ProtectionLevel, Mapping[str, str]] | None = None,
    ) -> None:
        self._available = dict(available)
        self._why = dict(why_unavailable or {})
        # Per protection level: the key specs its backend cannot generate, and why.
        self._gaps = {level: dict(gaps) for level, gaps in (spec_gaps or {}).items()}

    def for_level(self, level: ProtectionLevel) -> CryptoBackend:
        backend = self._available.get(level)
        if backend is None:
            raise errors.UnsupportedProtectionLevel(self._why.get(level, f"{level} keys are not configured."))
        return backend

    def for_key(self, key: Key) -> CryptoBackend:
        return self.for_level(key.protection_level)

    def offers(self, level: ProtectionLevel) -> bool:
        return level in self._available

    def check_spec(self, level: ProtectionLevel, spec_name: str) -> None:
        """Raise ``UnsupportedKeySpec`` if the backend of ``level`` cannot generate ``spec_name`` keys."""
        reason = self._gaps.get(level, {}).get(spec_name)
        if reason is not None:
            raise errors.UnsupportedKeySpec(reason)
