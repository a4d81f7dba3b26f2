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


class Provisional:
    """Objects a backend made before the transaction that records them.

    Key generation (RSA, an HSM round trip) runs outside the transaction so it never holds the
    database lock; until that transaction commits, the object is referenced by nothing. Leaving
    the block without ``keep`` (a refused CreateKey at its quota, a rotation that lost its
    compare-and-set, a failed commit, any exception or early return) destroys every object added,
    so no caller can fill the token that every account shares::

        with Provisional() as made:
            ref = made.add(backend, backend.create_symmetric(spec, version_id))
            with store.write() as uow:
                ...
            made.keep()
    """

    def __init__(self) -> None:
        self._made = Discards()

    def add(self, backend: CryptoBackend, material_ref: bytes) -> bytes:
        self._made.add(backend, material_ref)
        return material_ref

    def keep(self) -> None:
        """The transaction that references the objects committed: they stay."""
        self._made = Discards()

    def __enter__(self) -> Provisional:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._made.run()
