"""Reading the audit trail through the API: ActionTrail's LookupEvents over the caller's own
events. The trail is reached through the ``AuditReader`` port."""

from __future__ import annotations

from dataclasses import replace

from openkms.domain.actions import action
from openkms.domain.audit_query import AuditPage, Lookup, LookupRequest, lookup
from openkms.domain.authorization import trail_of
from openkms.domain.identity import Caller
from openkms.domain.ports import AuditReader, Clock
from openkms.service.resolve import KeyResolver

_LOOKUP = action("LookupEvents", "actiontrail")


class AuditSearchService:
    def __init__(self, reader: AuditReader, resolver: KeyResolver, clock: Clock) -> None:
        self._reader = reader
        self._resolver = resolver
        self._clock = clock

    def lookup_events(self, caller: Caller, request: LookupRequest) -> tuple[Lookup, AuditPage]:
        """The events of the caller's account in its region (ActionTrail's rule: a trail is an
        account's, and a region's endpoint answers for that region), as ``request`` filters them."""
        self._resolver.authorize(caller, _LOOKUP, trail_of(caller))
        asked = lookup(request, self._clock.now())
        query = replace(asked.query, account_id=caller.account_uid, region=caller.region)
        return asked, self._reader.search(query)
