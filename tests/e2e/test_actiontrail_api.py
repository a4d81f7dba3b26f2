"""ActionTrail's LookupEvents (2020-07-06) through Alibaba's own SDK, pointed at openkms by endpoint
alone: the caller's account's events in its region, newest first, LookupAttribute filters, paging
by NextToken, the time window, and the refusals (bad input, RAM permissions).

Events are put into the server's trail through its ``AuditSink`` (``record`` below), minutes
back, and the windows the tests ask about end before the test's own requests, which the server
records too. (Not days back: a chain's lines are in the order written, and the reader skips a
segment whose first line is well after the window.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from alibabacloud_actiontrail20200706 import models as at
from alibabacloud_actiontrail20200706.client import Client
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_tea_openapi.models import Config

from openkms.domain.audit import KEY_RESOURCE, KMS_SOURCE, RAM_SOURCE, AuditEvent, EventRW, EventType, UserIdentity
from openkms.domain.audit import event_time as iso
from openkms.domain.audit_query import parse_utc
from openkms.domain.identity import Caller
from openkms.domain.ram.identities import PolicyType
from openkms.service.ram_users import UserFields
from tests.e2e.expect import expect_wire, ok
from tests.e2e.signed import Signer
from tests.servers import InProcessServer, inprocess_server

DAY = 86_400


def record(server: InProcessServer, account: str, n: int, at: float, **fields: Any) -> str:
    """Puts event n of ``account`` at time ``at`` into the server's trail; returns its eventId.
    (Stands in for the events the server records of real requests.)"""
    values: dict[str, Any] = {
        "event_id": f"{account}-event-{n}",
        "event_name": "Encrypt",
        "event_source": KMS_SOURCE,
        "event_type": EventType.API_CALL,
        "event_rw": EventRW.READ,
        "event_time": iso(at),
        "acs_region": "cn-hangzhou",
        "request_id": f"request-{n}",
        "api_version": "2016-01-20",
        "user_identity": UserIdentity("root-account", account, account, "LTAIroot"),
        "source_ip_address": "192.0.2.1",
        "recipient_account_id": account,
        "service_name": "Kms",
        "referenced_resources": {KEY_RESOURCE: ("key-a",)},
        "request_parameters": {"KeyId": "key-a"},
    }
    values.update(fields)
    server.runtime.audit.record(AuditEvent(**values))
    return str(values["event_id"])


@dataclass
class Trail:
    """A fresh account with eight events two days back (ids by number), and its SDK client."""

    server: InProcessServer
    uid: str
    start: float  # event n is at start + n minutes

    @property
    def end(self) -> float:
        """Where the windows the tests ask about end: after the events put in, before the
        requests of the test itself (which the server records too)."""
        return self.start + 9 * 60 + 30

    ids: dict[int, str]
    client: Client

    def lookup(self, *conditions: tuple[str, str], **params: Any) -> at.LookupEventsResponseBody:
        attributes = [at.LookupEventsRequestLookupAttribute(key=k, value=v) for k, v in conditions]
        params.setdefault("start_time", iso(self.start - 60))
        params.setdefault("end_time", iso(self.end))
        body = self.client.lookup_events(at.LookupEventsRequest(lookup_attribute=attributes, **params)).body
        assert body is not None
        return body

    def numbers(self, body: at.LookupEventsResponseBody) -> list[int]:
        by_id = {event_id: n for n, event_id in self.ids.items()}
        return [by_id[e["eventId"]] for e in body.events or []]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """A server of this module's own: the shared one's clock is moved days ahead and back by other
    tests, and its trail's segments, rotated by age on that clock, would start days ahead of the
    events these tests put in (the reader skips a segment by its first line's time)."""
    with inprocess_server(tmp_path_factory.mktemp("actiontrail") / "data") as srv:
        yield srv


def client_for(server: InProcessServer, ak: str, secret: str, v2: bool = False) -> Client:
    config = Config(access_key_id=ak, access_key_secret=secret, endpoint=server.endpoint, protocol="http")
    config.region_id = "cn-hangzhou"
    if v2:
        config.signature_algorithm = "v2"
    return Client(config)


@pytest.fixture
def trail(server: InProcessServer) -> Trail:
    ak, secret, uid = server.new_account()
    start = server.clock.now() - 11 * 60
    minute = 60
    ids = {
        0: record(server, uid, 0, start),
        1: record(server, uid, 1, start + minute, event_name="Decrypt"),
        2: record(server, uid, 2, start + 2 * minute, event_rw=EventRW.WRITE, event_name="CreateKey",
                  referenced_resources={KEY_RESOURCE: ("key-b",)}, request_parameters={}),
        3: record(server, uid, 3, start + 3 * minute, error_code="Forbidden.RAM",
                  user_identity=UserIdentity("ram-user", "2001", uid, "LTAIalice", "alice")),
        4: record(server, uid, 4, start + 4 * minute, acs_region="cn-shanghai"),  # another region
        5: record(server, uid, 5, start + 5 * minute, event_name="CreateUser", event_source=RAM_SOURCE,
                  service_name="Ram", acs_region="cn-shanghai", event_rw=EventRW.WRITE,
                  referenced_resources={"ACS::RAM::User": ("alice",)}, request_parameters={}),
        6: record(server, uid, 6, start + 6 * minute, event_type=EventType.CONSOLE_OPERATION,
                  user_identity=UserIdentity("ram-user", "2001", uid, "", "alice")),
        # Another account's caller using this account's key: this account's event.
        7: record(server, uid, 7, start + 7 * minute,
                  user_identity=UserIdentity("root-account", "999", "999", "LTAIother")),
    }  # fmt: skip
    record(server, "999", 8, start + 8 * minute, recipient_account_id="999")  # another account's trail
    record(server, "999", 9, start + 9 * minute, recipient_account_id="", user_identity=UserIdentity("x", "999", "999"))
    return Trail(server, uid, start, ids, client_for(server, ak, secret))


def error_of(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(AlibabaCloudException) as err:
        call()
    return err.value.status_code, err.value.code  # type: ignore[attr-defined]


def test_the_accounts_events_in_its_region_newest_first(trail: Trail) -> None:
    body = trail.lookup()
    assert trail.numbers(body) == [7, 6, 5, 3, 2, 1, 0]  # 4 is in another region; RAM's 5 is global
    assert (body.start_time, body.end_time) == (iso(trail.start - 60), iso(trail.end))
    assert body.next_token is None
    assert body.request_id
    event = body.events[-1]
    assert event["eventId"] == trail.ids[0]
    assert event["userIdentity"]["accessKeyId"] == "LTAIroot"
    assert event["referencedResources"] == {KEY_RESOURCE: ["key-a"]}
    assert (event["eventName"], event["eventRW"], event["eventTime"]) == ("Encrypt", "Read", iso(trail.start))


def test_paging_by_next_token(trail: Trail) -> None:
    seen: list[int] = []
    token = None
    pages = 0
    while True:
        body = trail.lookup(max_results="3", next_token=token)
        assert len(body.events or []) <= 3
        seen += trail.numbers(body)
        pages += 1
        token = body.next_token
        if not token:
            break
    assert (seen, pages) == ([7, 6, 5, 3, 2, 1, 0], 3)
    forward = trail.lookup(direction="FORWARD", max_results="4")
    assert trail.numbers(forward) == [0, 1, 2, 3]
    rest = trail.lookup(direction="FORWARD", max_results="4", next_token=forward.next_token)
    assert trail.numbers(rest) == [5, 6, 7]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([("EventName", "Decrypt")], [1]),
        ([("ResourceName", "key-a")], [7, 6, 3, 1, 0]),
        ([("ResourceName", "key-b"), ("ResourceType", KEY_RESOURCE)], [2]),
        ([("ResourceType", "ACS::RAM::User")], [5]),
        ([("EventAccessKeyId", "LTAIalice")], [3]),
        ([("User", "alice")], [6, 3]),
        ([("EventRW", "Write")], [5, 2]),
        ([("ServiceName", "Ram")], [5]),
        ([("EventType", "ConsoleOperation")], [6]),
        ([("EventId", "{0}")], [0]),
        ([("User", "alice"), ("EventAccessKeyId", "LTAIalice")], [3]),  # two conditions: both hold
        ([("User", "bob"), ("User", "alice")], [6, 3]),  # the same key twice: the later one counts
        ([("EventName", "Encrypt"), ("User", "alice"), ("EventName", "Nothing")], [6, 3]),  # the third is ignored
        ([("RoleName", "AliyunServiceRoleForActionTrail")], []),  # openkms has no roles
    ],
)
def test_lookup_attributes(trail: Trail, conditions: list[tuple[str, str]], expected: list[int]) -> None:
    wanted = [(k, trail.ids[0] if v == "{0}" else v) for k, v in conditions]
    assert trail.numbers(trail.lookup(*wanted)) == expected


def test_the_default_window_is_the_last_seven_days(trail: Trail, server: InProcessServer) -> None:
    old = record(server, trail.uid, 20, server.clock.now() - 8 * DAY)
    trail.ids[20] = old
    recent = trail.client.lookup_events(at.LookupEventsRequest()).body
    assert recent is not None
    found = {e["eventId"] for e in recent.events or []}
    assert set(trail.ids.values()) - {old, trail.ids[4]} <= found
    assert old not in found
    start, end = parse_utc(recent.start_time or ""), parse_utc(recent.end_time or "")
    assert start is not None
    assert end is not None
    assert (end - start, abs(end - server.clock.now()) < 5) == (7 * DAY, True)
    # Written after the others although older: a chain is read in the order it was written.
    assert 20 in trail.numbers(trail.lookup(start_time=iso(server.clock.now() - 9 * DAY), max_results="50"))


def test_a_v2_signature_is_served_too(server: InProcessServer, trail: Trail) -> None:
    ak, secret, _ = server.new_account()
    body = client_for(server, ak, secret, v2=True).lookup_events(at.LookupEventsRequest()).body
    assert body is not None
    assert body.events == []  # a new account's trail holds nothing of another's


@pytest.mark.parametrize(
    "params",
    [
        {"start_time": "2026-01-01 00:00:00"},
        {"end_time": "yesterday"},
        {"start_time": "2026-02-30T00:00:00Z"},
        {"start_time": "2026-01-02T00:00:00Z", "end_time": "2026-01-01T00:00:00Z"},
        {"max_results": "51"},
        {"max_results": "-1"},
        {"max_results": "ten"},
        {"next_token": "not-a-token"},
        {"direction": "SIDEWAYS"},
    ],
)
def test_invalid_parameters(trail: Trail, params: dict[str, str]) -> None:
    request = at.LookupEventsRequest(**params)
    assert error_of(lambda: trail.client.lookup_events(request)) == (400, "InvalidParameterValue")


def test_an_unknown_lookup_attribute_key(trail: Trail) -> None:
    assert error_of(lambda: trail.lookup(("Colour", "red"))) == (400, "InvalidParameterValue")


def _user_client(server: InProcessServer, trail: Trail, name: str, *statements: dict[str, Any]) -> Client:
    root = Caller(trail.uid, "cn-hangzhou", "root")
    services = server.services
    services.ram_users.create_user(root, name, UserFields())
    if statements:
        document = json.dumps({"Version": "1", "Statement": list(statements)})
        services.ram_policies.create_policy(root, f"p-{name}", document)
        services.ram_policies.attach(root, PolicyType.CUSTOM, f"p-{name}", name)
    issued = services.ram_users.create_access_key(root, name)
    return client_for(server, issued.access_key.id, issued.secret)


def test_a_ram_user_needs_a_policy_allowing_lookup_events(server: InProcessServer, trail: Trail) -> None:
    allowed = _user_client(server, trail, "reader", {"Effect": "Allow", "Action": "actiontrail:LookupEvents",
                                                     "Resource": "*"})  # fmt: skip
    trail.client = allowed
    assert trail.numbers(trail.lookup()) == [7, 6, 5, 3, 2, 1, 0]

    nothing = _user_client(server, trail, "nobody")
    assert error_of(lambda: nothing.lookup_events(at.LookupEventsRequest())) == (403, "NoPermission")
    only_kms = _user_client(server, trail, "kms-admin", {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    assert error_of(lambda: only_kms.lookup_events(at.LookupEventsRequest())) == (403, "NoPermission")
    denied = _user_client(
        server, trail, "denied",
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "actiontrail:LookupEvents", "Resource": "*"},
    )  # fmt: skip
    assert error_of(lambda: denied.lookup_events(at.LookupEventsRequest())) == (403, "NoPermission")


def test_the_version_selects_the_table(server: InProcessServer) -> None:
    signer = Signer.for_new_account(server)
    expect_wire(signer.v1("LookupEvents").send(), 404, "InvalidAction.NotFound")  # not a KMS action
    expect_wire(signer.v1("DescribeRegions", version="2020-07-06").send(), 404, "InvalidAction.NotFound")
    assert (
        ok(signer.v1("LookupEvents", {"LookupAttribute.1.Key": "EventRW"}, version="2020-07-06").send())["Events"] == []
    )
    # A new account's trail holds only its own requests so far: the LookupEvents just made.
    found = ok(signer.v3("LookupEvents", {"Direction": "forward"}, version="2020-07-06").send())["Events"]
    assert [e["eventName"] for e in found] == ["LookupEvents"]
