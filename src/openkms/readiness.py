"""/readyz: whether this node should be sent requests now. A load balancer asks every few seconds;
each answer is a real round trip to what a request needs beyond the process itself: the database
(and a schema as new as the code), and every key store that keeps material outside it."""

from __future__ import annotations

from dataclasses import dataclass

from openkms.domain import errors
from openkms.domain.ports import Store
from openkms.service.backends import Backends
from openkms.storage import migrate
from openkms.storage.sql import SqlStore


@dataclass(frozen=True)
class Failure:
    component: str  # "database", "schema", "key-store"
    reason: str  # for the operator: never a secret, never a key id
    key_store: str | None = None

    def as_dict(self) -> dict[str, str]:
        shown = {"component": self.component, "reason": self.reason}
        if self.key_store is not None:
            shown["keyStore"] = self.key_store or "default"
        return shown


class Readiness:
    def __init__(self, store: Store, backends: Backends) -> None:
        self._store = store
        self._backends = backends
        self._head = migrate.head_revision()  # the code's newest schema, read once

    def failures(self) -> list[Failure]:
        try:
            self._store.ping()
        except errors.KmsError as exc:
            return [Failure("database", exc.message)]
        found = self._schema()
        for store_id, level, failure in self._backends.health():
            if failure is not None:  # logged by the store, once per failure (crypto/lazy.py)
                found.append(Failure("key-store", f"{level} key store: {failure}", store_id))
        return found

    def _schema(self) -> list[Failure]:
        if not isinstance(self._store, SqlStore):
            return []
        try:
            current = migrate.current_revision(self._store.engine)
        except Exception as exc:  # the database answered the ping: report it, do not fail the probe
            return [Failure("schema", f"the schema revision cannot be read: {type(exc).__name__}")]
        if current == self._head:
            return []
        return [Failure("schema", f"the database schema is at {current}, the code expects {self._head}")]
