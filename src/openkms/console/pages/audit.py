"""The Audit page and a key's recent usage: the account's audit trail, searched through
``AuditSearchService.search`` (the search ActionTrail's LookupEvents runs, with every filter of
the trail's query), newest first a page at a time, one event's whole JSON, and the events of a
pasted CiphertextBlob, hashed as the trail hashes it.

The filters are a GET form (a search is a link that can be kept); the ciphertext is posted, so
that the blob stays out of URLs, browser history and access logs, and only its hash is in the
answer's links.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from starlette.responses import Response

from openkms.console import forms
from openkms.console.web import Ctx
from openkms.domain.actions import ACTIONS, ACTIONTRAIL_ACTIONS, RAM_ACTIONS
from openkms.domain.audit import KEY_RESOURCE, EventType, event_time
from openkms.domain.audit_query import AuditPage, AuditQuery, parse_utc, parse_when
from openkms.domain.identity import Caller
from openkms.service.container import Services

EVENTS_PER_PAGE = 25
RECENT_USAGE = 20  # events on a key's page
USAGE_DAYS = 30  # how far back a key's page looks: bounded, so a page view never reads the whole trail

# The time range's presets: (value, label, how far back; "" for any time).
RANGES = (
    ("1h", "Last hour", "1h"),
    ("24h", "Last 24 hours", "24h"),
    ("7d", "Last 7 days", "7d"),
    ("30d", "Last 30 days", "30d"),
    ("all", "Any time", ""),
)
DEFAULT_RANGE = "7d"  # ActionTrail's LookupEvents window
VIA = {
    EventType.API_CALL.value: "API",
    EventType.CONSOLE_OPERATION.value: "Console",
    EventType.CONSOLE_SIGNIN.value: "Console log-on",
    EventType.SERVICE_EVENT.value: "openkms",
}
ACTION_NAMES = sorted({*ACTIONS, *RAM_ACTIONS, *ACTIONTRAIL_ACTIONS, "ConsoleSignin"})
TIME_HINT = "Use 2h, 7d, 2026-12-01, 2026-12-01T08:30 or 2026-12-01T08:30:00Z (UTC)."
NO_CIPHERTEXT = "Paste the CiphertextBlob to look for."
NO_EVENT = "There is no such event in this account's trail in this region."
TRAIL_OFF = "The audit trail is off on this server: nothing is recorded to look up."
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class EventRow:
    """One event as a table shows it."""

    event_id: str
    time: str  # eventTime, UTC
    action: str
    who: str  # the RAM user's name, "root account", "openkms" (a background change), "unknown"
    who_kind: str  # ActionTrail's userIdentity.type
    access_key_id: str
    source_ip: str
    keys: tuple[str, ...]
    via: str  # API, Console, Console log-on, openkms
    error_code: str  # "" when allowed and done


def event_row(event: Mapping[str, Any]) -> EventRow:
    who = event.get("userIdentity") or {}
    kind = str(who.get("type", ""))
    name = {"root-account": "root account", "system": "openkms", "unknown": "unknown"}.get(kind)
    keys = (event.get("referencedResources") or {}).get(KEY_RESOURCE) or []
    key_param = (event.get("requestParameters") or {}).get("KeyId")
    return EventRow(
        str(event.get("eventId", "")),
        str(event.get("eventTime", "")),
        str(event.get("eventName", "")),
        name or str(who.get("userName") or who.get("principalId") or ""),
        kind,
        str(who.get("accessKeyId", "")),
        str(event.get("sourceIpAddress", "")),
        tuple(keys) or ((key_param,) if isinstance(key_param, str) and key_param else ()),
        VIA.get(str(event.get("eventType", "")), str(event.get("eventType", ""))),
        str(event.get("errorCode") or ""),
    )


def key_usage(services: Services, caller: Caller, key_id: str) -> list[EventRow] | None:
    """The latest events that name the key (None: the caller may not read the trail; the page
    says so). Asked of ``AccessService`` first, as every page asks before it offers."""
    if "LookupEvents" not in services.access.on_trail(caller, ("LookupEvents",)):
        return None
    since = services.clock.now() - USAGE_DAYS * 86_400
    query = AuditQuery(resource=key_id, since=event_time(since), limit=RECENT_USAGE)
    return [event_row(e) for e in services.audit_search.search(caller, query).events]


# --- the Audit page -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter form as sent (each field's text), and the page's cursor."""

    range: str = DEFAULT_RANGE
    since: str = ""
    until: str = ""
    action: str = ""
    key: str = ""
    access_key: str = ""
    user: str = ""
    rw: str = ""
    via: str = ""
    failed: bool = False
    value: str = ""  # a keyed hash (hmac-sha256:...), from `openkms audit hash` or the ciphertext form
    cursor: str = ""

    @classmethod
    def read(cls, values: Mapping[str, Any]) -> Filters:
        fields = {name: forms.text(values, name).strip() for name in _TEXT_FIELDS}
        chosen = fields.pop("range") or DEFAULT_RANGE
        return cls(range=chosen, failed=forms.text(values, "failed") == "1", **fields)

    def link(self, **changed: str) -> dict[str, str]:
        """The query string of this search (``changed`` replaced), for a link."""
        values = {name: getattr(self, name) for name in _TEXT_FIELDS} | {"failed": "1" if self.failed else ""}
        return values | changed

    def query(self, now: float) -> AuditQuery:
        """The search these filters ask for; FormError for a time the field cannot hold."""
        preset = next((back for value, _, back in RANGES if value == self.range), "7d")
        since = _when("since", self.since or preset, now)
        until = _when("until", self.until, now)
        if since and until and since > until:
            raise forms.FormError({"until": "The end of the range is before its start."})
        return AuditQuery(
            since=since,
            until=until,
            event_names=(self.action,) if self.action else (),
            resource=self.key,
            access_key_id=self.access_key,
            user_name=self.user,
            event_rw=self.rw if self.rw in ("Read", "Write") else "",
            event_type=self.via if self.via in VIA else "",
            failed=True if self.failed else None,
            parameter_value=self.value,
            limit=EVENTS_PER_PAGE,
            cursor=self.cursor,
        )


_TEXT_FIELDS = ("range", "since", "until", "action", "key", "access_key", "user", "rw", "via", "value", "cursor")


def _when(name: str, text: str, now: float) -> str:
    if not text:
        return ""
    seconds = parse_when(text, now)
    if seconds is None:
        raise forms.FormError({name: f"Not a time: {text[:40]!r}. {TIME_HINT}"})
    return event_time(seconds)


async def audit_page(ctx: Ctx) -> Response:
    return await show(ctx, Filters.read(ctx.request.query_params))


async def show(ctx: Ctx, filters: Filters, problems: Mapping[str, str] | None = None, status: int = 200) -> Response:
    """The page with ``filters`` searched, or with ``problems`` (field -> message) and no search."""
    page: AuditPage | None = None
    window = ("", "")
    if not problems:
        try:
            asked = filters.query(ctx.services.clock.now())
        except forms.FormError as exc:
            return await show(ctx, filters, exc.fields, 400)
        page = await ctx.run(lambda: ctx.services.audit_search.search(ctx.caller, asked))
        window = (asked.since, asked.until)
    context = ctx.page_context(
        "audit",
        filters=filters,
        problems=problems or {},
        rows=[event_row(e) for e in page.events] if page else [],
        searched=page is not None,
        window=window,
        older_url=ctx.url("/audit", **filters.link(cursor=page.cursor)) if page and page.cursor else "",
        newest_url=ctx.url("/audit", **filters.link(cursor="")) if filters.cursor else "",
        clear_url=ctx.url("/audit"),
        event_url=lambda row: ctx.url(f"/audit/events/{row.event_id}", at=row.time),
        key_url=lambda key_id: ctx.url(f"/keys/{key_id}"),
        ranges=[(value, label) for value, label, _ in RANGES],
        action_names=ACTION_NAMES,
        via_choices=list(VIA.items()),
        time_hint=TIME_HINT,
    )
    return ctx.render("audit.html", context, status)


async def ciphertext(ctx: Ctx) -> Response:
    """The events whose parameters or answers hold the posted blob's keyed hash: the call that
    made it and each Decrypt or ReEncrypt it was sent to, over the whole trail."""
    blob = _SPACE.sub("", forms.text(ctx.form, "ciphertext"))  # pasted across lines: base64 has no spaces
    filters = Filters(range="all")
    if not blob:
        return await show(ctx, filters, {"ciphertext": NO_CIPHERTEXT}, 400)
    hashed = await ctx.run(lambda: ctx.services.audit_search.hashed(ctx.caller, blob.encode()))
    if not hashed:
        return await show(ctx, filters, {"ciphertext": TRAIL_OFF}, 409)
    return await show(ctx, replace(filters, value=hashed))


async def event_detail(ctx: Ctx) -> Response:
    """One event whole. ``at`` (its eventTime, from the link) bounds the search to that second."""
    event_id, at = ctx.path("event_id"), ctx.query("at")
    parsed = parse_utc(at)
    when = event_time(parsed) if parsed is not None else ""
    query = AuditQuery(event_id=event_id, since=when, until=when, limit=1)
    found = await ctx.run(lambda: ctx.services.audit_search.search(ctx.caller, query))
    if not found.events:
        return ctx.error_page(404, "Not found", NO_EVENT)
    event = found.events[0]
    context = ctx.page_context(
        "audit",
        row=event_row(event),
        document=json.dumps(event, indent=2, sort_keys=True, ensure_ascii=False),
        back_url=ctx.url("/audit"),
        key_url=lambda key_id: ctx.url(f"/keys/{key_id}"),
    )
    return ctx.render("audit_event.html", context)
