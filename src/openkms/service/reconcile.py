"""Reconciling HSM key stores with the database: token objects that no row references (orphans).

An orphan is left when a process dies between creating a token object and committing the row
that names it, or when destroying a retired object fails (``discards.py``). No request can reach
it, but it takes token space and an auditor cannot account for it. This module reports orphans
(at start, and on ``openkms hsm reconcile``) and destroys them on request.

Each look lists the tokens first and reads the database's references after: an object whose row
commits in between is then seen as referenced, never as an orphan. Every reference in the
database counts, whatever store its key names, so a token shared by two stores is safe. A token
must not be shared with another openkms database, whose objects would look like orphans here.

"Older than the grace period": PKCS#11 objects carry no creation time openkms could rely on
(CKA_START_DATE is a date, optional, and some HSMs enforce it as a usage limit), so an object
is destroyed only if it was an orphan at a first look and still is at a second look ``grace``
seconds later. A CreateKey under way at the first look (object made, row not yet committed) has
committed by then: a request waits seconds for the database, the grace period is minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from openkms.domain import errors
from openkms.domain.ports import Clock, HeldObject, ObjectInventory, Store
from openkms.service.backends import Backends

log = logging.getLogger("openkms.service.reconcile")

DEFAULT_GRACE_SECONDS = 120.0
NAMES_IN_A_LOG_LINE = 5


@dataclass(frozen=True, slots=True)
class StoreReport:
    """One key store at one look: how many openkms objects its token holds, which of them no row
    references, which were destroyed (``destroy_orphans``), or why it could not be checked."""

    store_id: str
    objects: int = 0
    orphans: tuple[HeldObject, ...] = ()
    destroyed: tuple[HeldObject, ...] = ()
    failure: str = ""

    @property
    def name(self) -> str:
        return self.store_id or "default"

    def summary(self, names: int | None = NAMES_IN_A_LOG_LINE) -> str:
        """One line: counts, and up to ``names`` object names (ids derived from key ids; never
        material). ``names=0``: counts only; None: every name."""
        if self.failure:
            return f"key store {self.name}: not checked ({self.failure})"
        text = f"key store {self.name}: {self.objects} token objects"
        if self.destroyed:
            text += f", destroyed {len(self.destroyed)} orphans{_names(self.destroyed, names)}"
            if self.orphans:
                why = "orphaned for less than the grace period, or not destroyed"
                text += f"; kept {len(self.orphans)} orphans ({why}){_names(self.orphans, names)}"
        elif self.orphans:
            why = "no database row references them"
            text += f", {len(self.orphans)} orphans ({why}){_names(self.orphans, names)}"
        else:
            text += ", no orphans"
        return text


def _names(objects: tuple[HeldObject, ...], limit: int | None) -> str:
    if limit == 0:
        return ""
    shown = objects if limit is None else objects[:limit]
    more = len(objects) - len(shown)
    return ": " + ", ".join(o.label for o in shown) + (f" and {more} more" if more else "")


@dataclass(frozen=True, slots=True)
class Reconciliation:
    at: float  # when the tokens were listed (the injected clock's time)
    stores: tuple[StoreReport, ...]

    @property
    def complete(self) -> bool:
        """Every key store was checked."""
        return not any(s.failure for s in self.stores)


class Reconciler:
    def __init__(self, store: Store, backends: Backends, clock: Clock) -> None:
        self._store = store
        self._backends = backends
        self._clock = clock

    def look(self) -> Reconciliation:
        """Every key store's token compared with every reference the database holds."""
        at = self._clock.now()
        listed: list[tuple[str, list[HeldObject] | str]] = []
        for store_id, inventory in self._backends.inventories():
            try:
                listed.append((store_id, inventory.list_objects()))
            except errors.KmsError as exc:  # an unreachable store: the others are still checked
                listed.append((store_id, exc.message))
        if not listed:
            return Reconciliation(at, ())
        with self._store.read() as uow:  # after the listing (see the module's docstring)
            referenced = uow.keys.hsm_references()
        reports = []
        for store_id, objects in listed:
            if isinstance(objects, str):
                reports.append(StoreReport(store_id, failure=objects))
            else:
                orphans = tuple(o for o in objects if o.ref not in referenced)
                reports.append(StoreReport(store_id, len(objects), orphans))
        return Reconciliation(at, tuple(reports))

    def destroy_orphans(self, grace: float, wait: Callable[[float], None]) -> Reconciliation:
        """Destroy the objects that are orphans at two looks ``grace`` seconds apart (``wait``
        is called until the clock has moved that far: ``time.sleep`` in the command)."""
        first = self.look()
        if not any(s.orphans for s in first.stores):
            return first
        while (left := first.at + grace - self._clock.now()) > 0:
            wait(left)
        earlier = {(s.store_id, o.ref) for s in first.stores for o in s.orphans}
        inventories = dict(self._backends.inventories())
        second = self.look()
        reports = tuple(self._destroy(r, inventories[r.store_id], earlier) for r in second.stores)
        return Reconciliation(second.at, reports)

    def _destroy(self, report: StoreReport, inventory: ObjectInventory, earlier: set[tuple[str, bytes]]) -> StoreReport:
        destroyed: list[HeldObject] = []
        left: list[HeldObject] = []
        for obj in report.orphans:
            if (report.store_id, obj.ref) not in earlier:
                left.append(obj)  # orphaned for less than the grace period: perhaps a request under way
                continue
            try:
                inventory.discard(obj.ref)
            except errors.KmsError as exc:
                log.warning("key store %s: could not destroy the orphan %s: %s", report.name, obj.label, exc.message)
                left.append(obj)
                continue
            log.info("key store %s: destroyed the orphaned token object %s", report.name, obj.label)
            destroyed.append(obj)
        return replace(report, orphans=tuple(left), destroyed=tuple(destroyed))


def log_report(result: Reconciliation, hint: str = "") -> None:
    """One log line per key store: a warning when it has orphans or could not be checked."""
    for report in result.stores:
        if report.failure or report.orphans:
            log.warning("%s%s", report.summary(), hint if report.orphans else "")
        else:
            log.info("%s", report.summary())
