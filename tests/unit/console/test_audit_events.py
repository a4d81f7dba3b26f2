"""The console's requests in the audit trail: each log-on (allowed or refused) a ConsoleSignin
event, each page a ConsoleOperation named after the API action it performed, with the key it
acted on and the refusal's error."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import ASGIApp

from openkms.console.app import ConsoleConfig, create_console
from openkms.service.keys import CreateKeyRequest
from openkms.service.ram_users import UserFields
from tests.audit_support import events
from tests.console_http import ConsoleClient
from tests.inproc import Inproc

HOME = "/cn-hangzhou/keys"


@pytest.fixture
def app(rt: Inproc) -> ASGIApp:
    return create_console(rt.runtime.services, ConsoleConfig(rt.runtime.console_key), offload=False)


def _trail(rt: Inproc) -> list[dict[str, Any]]:
    return events(rt.runtime.settings.data_dir / "audit")


def _last(rt: Inproc, **match: str) -> dict[str, Any]:
    found = [e for e in _trail(rt) if all(e.get(k) == v for k, v in match.items())]
    assert found, match
    return found[-1]


def test_log_ons_are_console_signin_events(rt: Inproc, app: ASGIApp) -> None:
    client = ConsoleClient(app)
    assert client.log_on(rt.access_key_id, "wrong").status_code == 401
    refused = _last(rt, eventName="ConsoleSignin")
    assert (refused["eventType"], refused["errorCode"]) == ("ConsoleSignin", "InvalidAccessKeyIdOrSecret")
    assert refused["userIdentity"]["accessKeyId"] == rt.access_key_id
    assert refused["recipientAccountId"] == rt.account_uid  # the account sees its key being tried
    assert refused["sourceIpAddress"] == "192.0.2.10"

    # A secret typed into the id box is not written down, not even as the id tried.
    ConsoleClient(app).log_on(rt.secret, "x")
    unknown = _last(rt, eventName="ConsoleSignin")
    assert (unknown["userIdentity"]["accessKeyId"], unknown["recipientAccountId"]) == ("", "")
    assert rt.secret not in str(_trail(rt))

    assert client.log_on(rt.access_key_id, rt.secret).status_code == 303
    allowed = _last(rt, eventName="ConsoleSignin")
    assert allowed["errorCode"] == ""
    assert allowed["userIdentity"]["type"] == "root-account"
    assert allowed["userIdentity"]["accountId"] == rt.account_uid


def test_a_page_is_an_event_named_after_the_action_it_performed(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    client = ConsoleClient(app)
    client.log_on(rt.access_key_id, rt.secret)
    assert client.get(HOME).status_code == 200
    listed = _last(rt, eventType="ConsoleOperation")
    assert (listed["eventName"], listed["eventRW"], listed["apiVersion"]) == ("ListKeys", "Read", "2016-01-20")

    page = f"{HOME}/{key.id}"
    token = client.csrf(page)
    assert client.post(f"{page}/disable", {"csrf_token": token}).status_code == 303
    disabled = _last(rt, eventName="DisableKey")
    assert (disabled["eventType"], disabled["eventRW"], disabled["errorCode"]) == ("ConsoleOperation", "Write", "")
    assert disabled["referencedResources"] == {"ACS::KMS::Key": [key.id]}
    assert disabled["userIdentity"]["accessKeyId"] == rt.access_key_id
    assert disabled["acsRegion"] == "cn-hangzhou"


def test_a_refused_change_is_an_event_with_its_error(rt: Inproc, app: ASGIApp) -> None:
    services = rt.runtime.services
    key = services.keys.create_key(rt.caller, CreateKeyRequest())
    services.ram_users.create_user(rt.caller, "viewer", UserFields())
    issued = services.ram_users.create_access_key(rt.caller, "viewer")
    client = ConsoleClient(app)
    client.log_on(issued.access_key.id, issued.secret)
    client.get(f"{HOME}/{key.id}")  # refused: no policy lets the user read the key
    token = client.csrf("/cn-hangzhou/keys")
    client.post(f"{HOME}/{key.id}/disable", {"csrf_token": token})
    denied = _last(rt, eventName="DisableKey")
    assert denied["errorCode"] == "AccessDenied"
    assert denied["userIdentity"] == {
        "type": "ram-user", "principalId": "viewer", "accountId": rt.account_uid,
        "accessKeyId": issued.access_key.id, "userName": "viewer",
    }  # fmt: skip
