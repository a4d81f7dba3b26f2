"""Destroying key material a backend holds outside the database (HSM token objects).

A reference is destroyed only after the transaction that dropped it committed: if the commit
fails, the row still names a live object. A failed destroy leaves an orphan in the token, which
is logged (by key store and reference, never material) rather than failing the request.
"""

from __future__ import annotations

import logging

from openkms.domain import errors
from openkms.domain.ports import CryptoBackend

log = logging.getLogger("openkms.service")


class Discards:
    def __init__(self) -> None:
        self._pending: list[tuple[CryptoBackend, bytes]] = []

    def add(self, backend: CryptoBackend, material_ref: bytes) -> None:
        if material_ref:
            self._pending.append((backend, material_ref))

    def run(self) -> None:
        pending, self._pending = self._pending, []
        for backend, ref in pending:
            try:
                backend.discard(ref)
            except errors.KmsError as exc:
                log.warning("could not destroy a retired key object (%s): %s", type(exc).__name__, exc.message)
