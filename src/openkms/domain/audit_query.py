"""Reading the audit trail: which events a search wants (``AuditQuery``), one page of the answer
(``AuditPage``), and ActionTrail's LookupEvents rules for turning its parameters into a query.

A query is matched against an event as the trail holds it (``AuditEvent.as_dict``: ActionTrail's
names). Times are ActionTrail's ``eventTime`` text (``2026-12-01T08:30:00Z``): one fixed-width UTC
form, so comparing the text compares the times, and a reader never converts an event's time.

``needles`` lists text that must appear in an event's JSON line for the query to match it: a
reader looks for it in the raw line before it parses the line, which is what makes a search over
a large trail cheap (most lines are never parsed).
"""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from openkms.domain import errors
from openkms.domain.audit import RAM_SOURCE, event_time
from openkms.domain.numbers import InvalidNumber, parse_integer

KEY_RESOURCE_PARAMETER = "KeyId"  # a request parameter naming a key, for events without referencedResources


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which events, newest first (``oldest_first``: the other way), ``limit`` at a time from
    ``cursor`` (the previous page's; "" for the first). Empty fields do not filter."""

    since: str = ""  # eventTime at or after, in event_time's form
    until: str = ""  # eventTime at or before
    event_names: tuple[str, ...] = ()  # any of them
    event_id: str = ""
    resource: str = ""  # an id in referencedResources (a key's), or the KeyId request parameter
    resource_type: str = ""  # "ACS::KMS::Key"
    access_key_id: str = ""
    user_name: str = ""
    account_id: str = ""  # recipientAccountId, or userIdentity.accountId when that is empty
    # acsRegion; events of RAM (a global service) and of no region (a console log-on: the console's
    # session is not a region's) are in every region
    region: str = ""
    event_rw: str = ""  # "Read" or "Write"
    event_type: str = ""  # "ApiCall", "ConsoleOperation", "AliyunServiceEvent"
    service_name: str = ""  # "Kms", "Ram"
    source_ip: str = ""
    failed: bool | None = None  # True: only events with an errorCode; False: only without
    # A value anywhere in requestParameters or responseElements, as the trail holds it: the keyed
    # hash of a CiphertextBlob or an EncryptionContext value ("was this blob decrypted?").
    parameter_value: str = ""
    role_name: str = ""  # openkms has no RAM roles: a query for one matches nothing
    oldest_first: bool = False
    limit: int = 20  # at most this many events; 0: no limit
    cursor: str = ""

    def matches(self, event: Mapping[str, Any]) -> bool:
        when = event.get("eventTime", "")
        if (self.since and when < self.since) or (self.until and when > self.until):
            return False
        if self.event_names and event.get("eventName") not in self.event_names:
            return False
        who = event.get("userIdentity") or {}
        for wanted, value in (
            (self.event_id, event.get("eventId")),
            (self.access_key_id, who.get("accessKeyId")),
            (self.user_name, who.get("userName")),
            (self.event_rw, event.get("eventRW")),
            (self.event_type, event.get("eventType")),
            (self.service_name, event.get("serviceName")),
            (self.source_ip, event.get("sourceIpAddress")),
        ):
            if wanted and wanted != value:
                return False
        if self.account_id and (event.get("recipientAccountId") or who.get("accountId")) != self.account_id:
            return False
        if self.region and event.get("acsRegion") not in (self.region, "") and event.get("eventSource") != RAM_SOURCE:
            return False
        if self.failed is not None and bool(event.get("errorCode")) != self.failed:
            return False
        if self.parameter_value and not any(
            _holds(event.get(part), self.parameter_value) for part in ("requestParameters", "responseElements")
        ):
            return False
        return not self.role_name and self._resource_matches(event)

    def _resource_matches(self, event: Mapping[str, Any]) -> bool:
        if not self.resource and not self.resource_type:
            return True
        referenced: Mapping[str, Sequence[str]] = event.get("referencedResources") or {}
        if self.resource_type and self.resource_type not in referenced:
            return False
        if not self.resource:
            return True
        lists = [referenced.get(self.resource_type, ())] if self.resource_type else list(referenced.values())
        if any(self.resource in ids for ids in lists):
            return True
        parameters = event.get("requestParameters") or {}
        return not self.resource_type and parameters.get(KEY_RESOURCE_PARAMETER) == self.resource

    def needles(self) -> tuple[str, ...]:
        """Text each matching event's JSON line contains: each wanted value as a JSON string, the
        likely rarest first (a reader looks for the first one in whole blocks)."""
        names = self.event_names[:1] if len(self.event_names) == 1 else ()
        values = (
            self.parameter_value, self.event_id, self.resource, self.access_key_id, self.user_name, self.source_ip,
            *names, self.resource_type, self.service_name, self.event_type, self.event_rw, self.account_id,
        )  # fmt: skip
        return tuple(json.dumps(v, ensure_ascii=False) for v in values if v)


def _holds(value: Any, wanted: str) -> bool:
    """Whether ``wanted`` is ``value`` or one of the values nested in it (an EncryptionContext's)."""
    if isinstance(value, Mapping):
        return any(_holds(v, wanted) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds(v, wanted) for v in value)
    return isinstance(value, str) and value == wanted


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Events as the trail holds them (ActionTrail's names), and the cursor of the next page
    ("" when there is none)."""

    events: tuple[Mapping[str, Any], ...]
    cursor: str = ""


# --- times --------------------------------------------------------------------------------------

_UTC = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?Z")
_RELATIVE = re.compile(r"([0-9]{1,9})([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_utc(text: str) -> float | None:
    """Seconds since the epoch of ``YYYY-MM-DDThh:mm:ssZ`` (fractions of a second ignored), the
    form ActionTrail takes; None for anything else, an impossible date included."""
    m = _UTC.fullmatch(text)
    if m is None:
        return None
    try:
        parsed = time.strptime("-".join(m.groups()), "%Y-%m-%d-%H-%M-%S")
    except ValueError:
        return None
    return float(calendar.timegm(parsed))


def parse_when(text: str, now: float) -> float | None:
    """What a person types for a time: ``2h``, ``7d``, ``30m``, ``45s``, ``1w`` ago, an ActionTrail
    time, a date (``2026-12-01``, midnight UTC) or a time without a zone (UTC)."""
    text = text.strip()
    m = _RELATIVE.fullmatch(text)
    if m is not None:
        return now - int(m.group(1)) * _UNIT[m.group(2)]
    exact = parse_utc(text)
    if exact is not None:
        return exact
    for form in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return float(calendar.timegm(time.strptime(text, form)))
        except ValueError:
            continue
    return None


# --- ActionTrail LookupEvents (2020-07-06) -------------------------------------------------------

DEFAULT_WINDOW = 7 * 86_400  # StartTime's default: seven days before EndTime's
DEFAULT_RESULTS = 20
MAX_RESULTS = 50
MAX_CONDITIONS = 2  # ActionTrail uses the first two LookupAttribute conditions and ignores the rest

# LookupAttribute.N.Key -> the query field its Value sets.
LOOKUP_ATTRIBUTES: Mapping[str, str] = {
    "EventName": "event_names",
    "EventId": "event_id",
    "ResourceName": "resource",
    "ResourceType": "resource_type",
    "EventAccessKeyId": "access_key_id",
    "User": "user_name",
    "UserName": "user_name",
    "EventRW": "event_rw",
    "EventType": "event_type",
    "ServiceName": "service_name",
    "SourceIpAddress": "source_ip",
    "RoleName": "role_name",
}


@dataclass(frozen=True, slots=True)
class LookupRequest:
    """LookupEvents' parameters as sent (None: absent)."""

    attributes: tuple[tuple[str, str], ...] = ()  # (Key, Value) in index order
    start_time: str | None = None
    end_time: str | None = None
    max_results: str | None = None
    next_token: str | None = None
    direction: str | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    query: AuditQuery
    start_time: str  # the window searched, as the response names it
    end_time: str
    conditions: Mapping[str, str] = field(default_factory=dict)


def _time(name: str, text: str | None, default: float) -> float:
    if text is None or text == "":
        return default
    parsed = parse_utc(text)
    if parsed is None:
        raise errors.InvalidLookupParameter(name, "Use the form YYYY-MM-DDThh:mm:ssZ (UTC).")
    return parsed


def _results(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_RESULTS
    try:
        number = parse_integer(text, signed=False, lo=0, hi=MAX_RESULTS)
    except InvalidNumber as exc:
        raise errors.InvalidLookupParameter("MaxResults", exc.reason) from None
    return number or DEFAULT_RESULTS


def _conditions(attributes: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The first two conditions; of two with the same key, the later one counts (ActionTrail's
    documented rules)."""
    conditions: dict[str, str] = {}
    for key, value in attributes[:MAX_CONDITIONS]:
        if key not in LOOKUP_ATTRIBUTES:
            raise errors.InvalidLookupParameter(
                "LookupAttribute.N.Key", f"{key[:64]!r} is not one of {', '.join(sorted(LOOKUP_ATTRIBUTES))}."
            )
        conditions[key] = value
    return conditions


def lookup(request: LookupRequest, now: float) -> Lookup:
    """The query LookupEvents' parameters ask for (without the caller's account and region, which
    the service adds). Raises InvalidLookupParameter."""
    end = _time("EndTime", request.end_time, now)
    start = _time("StartTime", request.start_time, end - DEFAULT_WINDOW)
    if start > end:
        raise errors.InvalidLookupParameter("StartTime", "It must not be later than EndTime.")
    direction = (request.direction or "BACKWARD").upper()
    if direction not in ("BACKWARD", "FORWARD"):
        raise errors.InvalidLookupParameter("Direction", "Use BACKWARD or FORWARD.")
    query = AuditQuery(
        since=event_time(start),
        until=event_time(end),
        oldest_first=direction == "FORWARD",
        limit=_results(request.max_results),
        cursor=request.next_token or "",
    )
    conditions = _conditions(request.attributes)
    values: dict[str, Any] = {LOOKUP_ATTRIBUTES[key]: value for key, value in conditions.items()}
    if "event_names" in values:
        values["event_names"] = (values["event_names"],) if values["event_names"] else ()
    query = replace(query, **values)
    return Lookup(query, query.since, query.until, conditions)
