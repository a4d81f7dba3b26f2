"""Reading the audit trail: ActionTrail's LookupEvents over the caller's own events, and the same
search with every filter the trail's query knows (the console's Audit page and a key's recent
usage). The trail is reached through the ``AuditReader`` port."""

from __future__ import annotations

from dataclasses import replace

from openkms.domain.actions import action
from openkms.domain.audit import KeyedHash
from openkms.domain.audit_query import AuditPage, AuditQuery, Lookup, LookupRequest, lookup
from openkms.domain.authorization import trail_of
from openkms.domain.identity import Caller
from openkms.domain.ports import AuditReader, Clock
from openkms.service.resolve import KeyResolver

_LOOKUP = action("LookupEvents", "actiontrail")


class AuditSearchService:
    def __init__(self, reader: AuditReader, resolver: KeyResolver, clock: Clock, keyed_hash: KeyedHash) -> None:
        self._reader = reader
        self._resolver = resolver
        self._clock = clock
        self._keyed_hash = keyed_hash

    def lookup_events(self, caller: Caller, request: LookupRequest) -> tuple[Lookup, AuditPage]:
        """LookupEvents: ``request`` as ActionTrail's rules read it (a caller who may not search
        learns nothing of its parameters' faults)."""
        self._resolver.authorize(caller, _LOOKUP, trail_of(caller))
        asked = lookup(request, self._clock.now())
        return asked, self._search(caller, asked.query)

    def search(self, caller: Caller, query: AuditQuery) -> AuditPage:
        """The events ``query`` matches, as LookupEvents finds them: every filter of the query,
        not only ActionTrail's two conditions."""
        self._resolver.authorize(caller, _LOOKUP, trail_of(caller))
        return self._search(caller, query)

    def _search(self, caller: Caller, query: AuditQuery) -> AuditPage:
        # ActionTrail's rule: a trail is an account's, and a region's endpoint answers for that region.
        return self._reader.search(replace(query, account_id=caller.account_uid, region=caller.region))

    def hashed(self, caller: Caller, value: bytes) -> str:
        """``value`` (a CiphertextBlob's text as sent) hashed as the trail hashes it, to search for
        it; "" when the trail is off. Only for who may search the trail: to anyone else the hash
        would only serve to confirm a guess of a value the trail holds hashed."""
        self._resolver.authorize(caller, _LOOKUP, trail_of(caller))
        return self._keyed_hash(value)
