"""ActionTrail 2020-07-06: LookupEvents over the audit trail.

Served on the same endpoint and signatures as KMS; the request's Version selects this table.
Parameters as the official SDK (alibabacloud-actiontrail20200706) sends them; the rules for them
are in domain/audit_query.py.
"""

from __future__ import annotations

from typing import Any

from openkms.domain.audit_query import LookupRequest
from openkms.protocol.actions.context import Ctx, Handler

# More than anyone sends: ActionTrail uses the first two conditions and ignores the rest.
_MAX_ATTRIBUTES = 100


def lookup_events(ctx: Ctx) -> dict[str, Any]:
    p = ctx.p
    request = LookupRequest(
        attributes=tuple(p.indexed_pairs("LookupAttribute", _MAX_ATTRIBUTES)),
        start_time=p.raw("StartTime"),
        end_time=p.raw("EndTime"),
        max_results=p.raw("MaxResults"),
        next_token=p.raw("NextToken"),
        direction=p.raw("Direction"),
    )
    asked, page = ctx.services.audit_search.lookup_events(ctx.caller, request)
    out: dict[str, Any] = {"Events": list(page.events), "StartTime": asked.start_time, "EndTime": asked.end_time}
    if page.cursor:
        out["NextToken"] = page.cursor
    return out


ACTIONS: dict[str, Handler] = {"LookupEvents": lookup_events}
