"""The console's log-on against guessing, and sessions that end where the server says so:
failed log-ons throttled per source address and per AccessKey id on the runtime clock (tests move
it, never sleep), a typed id that is no AccessKey's logged only as a fingerprint, log-off and a
RAM user's rules enforced on the server."""

from __future__ import annotations

import hashlib
import logging

import httpx
import pytest
from starlette.types import ASGIApp

from openkms.console.app import ConsoleConfig, create_console
from openkms.domain.ram.identities import PolicyType
from openkms.service.keys import CreateKeyRequest
from openkms.service.ram_users import UserFields
from tests.console_http import ConsoleClient
from tests.inproc import Inproc

HOME = "/cn-hangzhou/keys"


@pytest.fixture
def app(rt: Inproc) -> ASGIApp:
    return create_console(rt.runtime.services, ConsoleConfig(rt.runtime.console_key), offload=False)


def signed_in(response_status: int, client: ConsoleClient) -> bool:
    return response_status == 303 and client.get(HOME).status_code == 200


def test_failed_log_ons_from_one_address_are_refused_for_a_growing_while(rt: Inproc, app: ASGIApp) -> None:
    guesser = ConsoleClient(app, "192.0.2.66")
    for n in range(5):  # unknown ids: each failure counts for the address (and its own id)
        assert guesser.log_on(f"LTAIguess{n:015d}", "nope").status_code == 401
    refused = guesser.log_on(rt.access_key_id, rt.secret)  # even the right pair, from there
    assert refused.status_code == 429
    assert "Too many failed log-ons; try again in 60 seconds" in refused.text
    assert refused.headers["retry-after"] == "60"
    # Someone else, from another address with another id, is not held up.
    other = ConsoleClient(app, "198.51.100.7")
    assert signed_in(other.log_on(rt.access_key_id, rt.secret).status_code, other)

    rt.clock.advance(60)
    assert guesser.log_on("LTAIguess-again-000000000", "nope").status_code == 401  # the 6th: 120 s now
    rt.clock.advance(119)
    assert guesser.log_on(rt.access_key_id, rt.secret).status_code == 429
    rt.clock.advance(1)
    assert signed_in(guesser.log_on(rt.access_key_id, rt.secret).status_code, guesser)


def test_failed_log_ons_for_one_access_key_id_are_refused_from_any_address(rt: Inproc, app: ASGIApp) -> None:
    for n in range(5):  # wrong secrets for one id, each from another address
        assert ConsoleClient(app, f"203.0.113.{n}").log_on(rt.access_key_id, "wrong").status_code == 401
    fresh = ConsoleClient(app, "203.0.113.200")
    assert fresh.log_on(rt.access_key_id, rt.secret).status_code == 429
    # Another AccessKey from that same address is not held up by this id's failures.
    other = rt.runtime.services.identity.create_access_key(new_account=True)
    assert signed_in(fresh.log_on(other.access_key.id, other.secret).status_code, fresh)
    rt.clock.advance(60)
    later = ConsoleClient(app, "203.0.113.201")
    assert signed_in(later.log_on(rt.access_key_id, rt.secret).status_code, later)


def test_a_failed_log_on_logs_an_unknown_id_only_as_a_fingerprint(
    rt: Inproc, app: ASGIApp, caplog: pytest.LogCaptureFixture
) -> None:
    pasted = "Zq8mXv3nT5rW9yB2cD4fG6hJ8kL0pQ"  # a secret typed into the AccessKey ID field
    with caplog.at_level(logging.INFO, logger="openkms.console"):
        assert ConsoleClient(app).log_on(pasted, rt.secret).status_code == 401
        assert ConsoleClient(app).log_on(rt.access_key_id, "wrong").status_code == 401
    text = caplog.text
    assert pasted not in text
    assert pasted[:12] not in text
    assert hashlib.sha256(pasted.encode()).hexdigest()[:8] in text
    assert rt.access_key_id in text  # a known id is an id: it is logged as it is


def test_logging_off_ends_the_session_on_the_server(rt: Inproc, app: ASGIApp) -> None:
    browser = ConsoleClient(app)
    assert signed_in(browser.log_on(rt.access_key_id, rt.secret).status_code, browser)
    stolen = httpx.Cookies(browser.cookies)  # a copy of the cookie, taken while signed in
    token = browser.csrf(HOME)
    assert browser.post("/logout", {"csrf_token": token}).status_code == 303
    replay = ConsoleClient(app)
    replay.cookies = stolen
    response = replay.get(HOME)
    assert response.status_code == 303
    assert "/login" in response.headers["location"]


def test_a_ram_user_gets_its_own_rules_in_the_console(rt: Inproc, app: ASGIApp) -> None:
    services = rt.runtime.services
    services.ram_users.create_user(rt.caller, "reader", UserFields())
    issued = services.ram_users.create_access_key(rt.caller, "reader")
    browser = ConsoleClient(app)
    assert browser.log_on(issued.access_key.id, issued.secret).status_code == 303
    denied = browser.get("/cn-hangzhou/aliases")  # no policy: not even ListAliases
    assert denied.status_code == 403
    services.ram_policies.attach(rt.caller, PolicyType.SYSTEM, "AliyunKMSReadOnlyAccess", "reader")
    assert browser.get("/cn-hangzhou/aliases").status_code == 200
    services.ram_policies.detach(rt.caller, PolicyType.SYSTEM, "AliyunKMSReadOnlyAccess", "reader")
    assert browser.get("/cn-hangzhou/aliases").status_code == 403  # on the next request


def test_a_read_only_user_is_offered_no_changes(rt: Inproc, app: ASGIApp) -> None:
    services = rt.runtime.services
    key = services.keys.create_key(rt.caller, CreateKeyRequest(alias="alias/shown"))
    services.ram_users.create_user(rt.caller, "auditor", UserFields())
    services.ram_policies.attach(rt.caller, PolicyType.SYSTEM, "AliyunKMSReadOnlyAccess", "auditor")
    issued = services.ram_users.create_access_key(rt.caller, "auditor")
    browser = ConsoleClient(app)
    assert browser.log_on(issued.access_key.id, issued.secret).status_code == 303
    aliases = browser.get("/cn-hangzhou/aliases")
    assert "alias/shown" in aliases.text
    assert "Delete alias" not in aliases.text
    keys = browser.get(HOME)
    assert key.id in keys.text
    assert 'id="create-key" disabled' in keys.text
    page = browser.get(f"/cn-hangzhou/keys/{key.id}")
    assert page.status_code == 200
    assert 'data-denied="DisableKey"' in page.text
    assert "Add alias" not in page.text
    token = browser.csrf(f"/cn-hangzhou/keys/{key.id}")
    refused = browser.post(f"/cn-hangzhou/keys/{key.id}/disable", {"csrf_token": token})  # a crafted request
    assert refused.status_code == 403
    assert "no policy allows kms:DisableKey" in refused.text
