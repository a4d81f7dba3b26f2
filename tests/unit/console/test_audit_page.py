"""Reading the audit trail in the console over HTTP: a key's recent usage, the Audit page's
filters and paging, one event's JSON, the ciphertext lookup, and every refusal. The events are
those of real requests made through the API and the console beforehand."""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Any

import pytest
from starlette.types import ASGIApp

from openkms.console.app import ConsoleConfig, create_console
from openkms.console.pages.audit import EVENTS_PER_PAGE, NO_CIPHERTEXT
from openkms.domain.identity import Caller
from openkms.domain.ram.identities import PolicyType
from openkms.service.keys import CreateKeyRequest
from openkms.service.ram_users import UserFields
from tests.audit_support import events
from tests.console_http import ConsoleClient
from tests.inproc import Inproc

AUDIT = "/cn-hangzhou/audit"
KEYS = "/cn-hangzhou/keys"
APP_ADDRESS = "198.51.100.7"  # where the API requests come from
ROWS = re.compile(r'<tr data-event="([^"]+)">')
SECRET_TEXT = b"the payroll file"


@pytest.fixture
def app(rt: Inproc) -> ASGIApp:
    return create_console(rt.runtime.services, ConsoleConfig(rt.runtime.console_key), offload=False)


def _ok(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.body
    return dict(json.loads(response.body))


def _encrypt_and_decrypt(rt: Inproc, key_id: str) -> str:
    """An Encrypt and a Decrypt through the API from APP_ADDRESS; returns the blob."""
    plaintext = base64.b64encode(SECRET_TEXT).decode()
    made = _ok(rt.request("Encrypt", {"KeyId": key_id, "Plaintext": plaintext}, client=APP_ADDRESS))
    blob = str(made["CiphertextBlob"])
    _ok(rt.request("Decrypt", {"CiphertextBlob": blob}, client=APP_ADDRESS))
    return blob


def _rows(page: str, table: str) -> list[str]:
    """The event ids of a table, in order."""
    start = page.index(f'id="{table}"')
    return ROWS.findall(page[start : page.index("</table>", start)])


def _trail(rt: Inproc, **match: str) -> list[dict[str, Any]]:
    found = events(rt.runtime.settings.data_dir / "audit")
    return [e for e in found if all(e.get(k) == v for k, v in match.items())]


def _user(rt: Inproc, name: str, *actions: str) -> tuple[str, str]:
    """A RAM user allowed ``actions`` on everything; returns its AccessKey pair."""
    services = rt.runtime.services
    services.ram_users.create_user(rt.caller, name, UserFields())
    allow = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    document = json.dumps({"Version": "1", "Statement": [allow]})
    services.ram_policies.create_policy(rt.caller, f"{name}-policy", document)
    services.ram_policies.attach(rt.caller, PolicyType.CUSTOM, f"{name}-policy", name)
    issued = services.ram_users.create_access_key(rt.caller, name)
    return issued.access_key.id, issued.secret


def _signed_in(app: ASGIApp, access_key_id: str, secret: str) -> ConsoleClient:
    client = ConsoleClient(app)
    assert client.log_on(access_key_id, secret).status_code == 303
    return client


def test_a_key_page_shows_who_used_it_when_and_from_where(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    other = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    _encrypt_and_decrypt(rt, key.id)
    _encrypt_and_decrypt(rt, other.id)
    denied = rt.request("DisableKey", {"KeyId": key.id}, client=APP_ADDRESS, timestamp=0)  # a refused signature
    assert denied.status == 400
    client = _signed_in(app, rt.access_key_id, rt.secret)

    page = client.get(f"{KEYS}/{key.id}").text
    decrypt = _trail(rt, eventName="Decrypt")[0]
    encrypt = next(e for e in _trail(rt, eventName="Encrypt") if e["requestParameters"]["KeyId"] == key.id)
    assert _rows(page, "recent-usage") == [decrypt["eventId"], encrypt["eventId"]]  # newest first, only this key's
    row = page[page.index(f'data-event="{decrypt["eventId"]}"') :].split("</tr>")[0]
    for shown in ("Decrypt", "root account", rt.access_key_id, APP_ADDRESS, "API", "Allowed",
                  decrypt["eventTime"].replace("T", " ").removesuffix("Z")):  # fmt: skip
        assert shown in row, shown

    # Viewing the page is usage too (the console's DescribeKey, from the browser's address), shown next time.
    again = client.get(f"{KEYS}/{key.id}").text
    viewed = _trail(rt, eventType="ConsoleOperation", eventName="DescribeKey")[0]  # the first view
    assert _rows(again, "recent-usage")[0] == viewed["eventId"]
    assert "192.0.2.10" in again
    assert "Console" in again
    # The page's own event is still named after the key it showed.
    assert viewed["referencedResources"] == {"ACS::KMS::Key": [key.id]}


def test_the_audit_page_filters_by_action_access_key_user_and_outcome(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    _encrypt_and_decrypt(rt, key.id)
    app_key, app_secret = _user(rt, "app", "kms:Encrypt")
    refused = ConsoleClient(app)  # the user's console: the key page is refused (no kms:DescribeKey)
    assert refused.log_on(app_key, app_secret).status_code == 303
    assert refused.get(f"{KEYS}/{key.id}").status_code == 403
    client = _signed_in(app, rt.access_key_id, rt.secret)

    decrypts = client.get(f"{AUDIT}?action=Decrypt").text
    assert _rows(decrypts, "audit-events") == [e["eventId"] for e in _trail(rt, eventName="Decrypt")]
    by_app = client.get(f"{AUDIT}?access_key={app_key}").text
    app_events = [e["eventId"] for e in reversed(_trail(rt)) if e["userIdentity"]["accessKeyId"] == app_key]
    assert _rows(by_app, "audit-events") == app_events  # its log-on and the refused page
    assert len(app_events) == 2
    by_name = client.get(f"{AUDIT}?user=app&failed=1").text
    assert _rows(by_name, "audit-events") == [_trail(rt, errorCode="AccessDenied")[-1]["eventId"]]
    assert "AccessDenied" in by_name
    assert "(RAM user)" in by_name
    writes = client.get(f"{AUDIT}?rw=Write&via=ApiCall").text
    assert _rows(writes, "audit-events") == []  # Encrypt and Decrypt read; the key was made by the services
    via_console = _rows(client.get(f"{AUDIT}?via=ConsoleSignin").text, "audit-events")
    assert via_console == [e["eventId"] for e in reversed(_trail(rt, eventType="ConsoleSignin"))]
    # The form shows what it searched.
    assert f'name="access_key" type="text" class="medium" value="{app_key}"' in by_app


def test_time_range(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    _encrypt_and_decrypt(rt, key.id)
    rt.clock.advance(3 * 3600)
    client = _signed_in(app, rt.access_key_id, rt.secret)
    assert _rows(client.get(f"{AUDIT}?action=Decrypt&range=1h").text, "audit-events") == []
    assert len(_rows(client.get(f"{AUDIT}?action=Decrypt&range=24h").text, "audit-events")) == 1
    assert len(_rows(client.get(f"{AUDIT}?action=Decrypt&since=4h&until=2h").text, "audit-events")) == 1
    assert _rows(client.get(f"{AUDIT}?action=Decrypt&since=2h").text, "audit-events") == []  # From wins over range
    when = _trail(rt, eventName="Decrypt")[0]["eventTime"]
    exact = client.get(f"{AUDIT}?action=Decrypt&range=all&since={when}&until={when}").text
    assert len(_rows(exact, "audit-events")) == 1


def test_paging_newest_first_without_repeating_an_event(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    plaintext = base64.b64encode(b"x").decode()
    for _ in range(EVENTS_PER_PAGE + 5):
        _ok(rt.request("Encrypt", {"KeyId": key.id, "Plaintext": plaintext}))
    client = _signed_in(app, rt.access_key_id, rt.secret)
    first = client.get(f"{AUDIT}?action=Encrypt").text
    older = re.search(r'href="([^"]+)" rel="next" id="audit-older"', first)
    assert older is not None
    second = client.get(html.unescape(older.group(1))).text
    assert 'id="audit-older"' not in second  # the last page
    shown = _rows(first, "audit-events") + _rows(second, "audit-events")
    assert shown == [e["eventId"] for e in reversed(_trail(rt, eventName="Encrypt"))]
    assert len(_rows(first, "audit-events")) == EVENTS_PER_PAGE
    assert 'id="audit-newest"' in second  # back to the first page


def test_one_event_as_json_with_its_blob_hashed(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    blob = _encrypt_and_decrypt(rt, key.id)
    decrypt = _trail(rt, eventName="Decrypt")[0]
    client = _signed_in(app, rt.access_key_id, rt.secret)
    listing = client.get(f"{AUDIT}?action=Decrypt").text
    link = re.search(r'<a href="([^"]+)" title="Event ' + decrypt["eventId"], listing)
    assert link is not None
    detail = client.get(html.unescape(link.group(1)))
    assert detail.status_code == 200
    document = html.unescape(detail.text.split('id="event-json">')[1].split("</pre>")[0])
    assert json.loads(document) == decrypt
    assert '\n  "eventName": "Decrypt",' in document  # pretty-printed
    assert decrypt["requestParameters"]["CiphertextBlob"].startswith("hmac-sha256:")
    assert blob not in detail.text
    assert base64.b64encode(SECRET_TEXT).decode() not in detail.text
    # Without the time the link carries, the event is still found; an unknown one is not.
    assert client.get(f"{AUDIT}/events/{decrypt['eventId']}").status_code == 200
    missing = client.get(f"{AUDIT}/events/no-such-event")
    assert missing.status_code == 404
    assert "There is no such event" in missing.text


def test_the_ciphertext_lookup_finds_where_a_blob_was_made_and_decrypted(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    blob = _encrypt_and_decrypt(rt, key.id)
    other = _encrypt_and_decrypt(rt, key.id)
    client = _signed_in(app, rt.access_key_id, rt.secret)
    token = client.csrf(AUDIT)
    wrapped = "\n".join(blob[i : i + 40] for i in range(0, len(blob), 40))  # pasted from a terminal
    found = client.post(f"{AUDIT}/ciphertext", {"csrf_token": token, "ciphertext": wrapped})
    assert found.status_code == 200
    made = _trail(rt, eventName="Encrypt")[0]
    decrypted = _trail(rt, eventName="Decrypt")[0]
    assert _rows(found.text, "audit-events") == [decrypted["eventId"], made["eventId"]]
    hashed = rt.runtime.services.audit.keyed_hash(blob.encode())
    assert hashed == decrypted["requestParameters"]["CiphertextBlob"] == made["responseElements"]["CiphertextBlob"]
    assert blob not in found.text
    assert other not in found.text
    assert f'value="{hashed}"' in found.text
    # The hash is a filter like any other: a link to it finds the same events.
    again = client.get(f"{AUDIT}?range=all&value={hashed}&action=Decrypt").text
    assert _rows(again, "audit-events") == [decrypted["eventId"]]
    # The lookup is a search: recorded as LookupEvents, and the blob is not in its event.
    lookup = _trail(rt, eventType="ConsoleOperation", eventName="LookupEvents")
    assert lookup
    assert all(blob not in json.dumps(e) for e in lookup)
    assert lookup[0]["serviceName"] == "Actiontrail"


def test_refusals_of_the_forms(rt: Inproc, app: ASGIApp) -> None:
    client = _signed_in(app, rt.access_key_id, rt.secret)
    bad_time = client.get(f"{AUDIT}?since=yesterday")
    assert bad_time.status_code == 400
    assert "Not a time: &#39;yesterday&#39;" in bad_time.text
    assert 'id="audit-events"' not in bad_time.text
    backwards = client.get(f"{AUDIT}?since=2h&until=3h")
    assert backwards.status_code == 400
    assert "The end of the range is before its start." in backwards.text
    bad_cursor = client.get(f"{AUDIT}?cursor=garbage")
    assert bad_cursor.status_code == 400
    token = client.csrf(AUDIT)
    empty = client.post(f"{AUDIT}/ciphertext", {"csrf_token": token, "ciphertext": "  \n"})
    assert empty.status_code == 400
    assert NO_CIPHERTEXT in empty.text
    no_token = client.post(f"{AUDIT}/ciphertext", {"ciphertext": "abc"})
    assert no_token.status_code == 403


def test_without_lookup_events_no_usage_and_the_audit_page_is_refused(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    _encrypt_and_decrypt(rt, key.id)
    viewer_key, viewer_secret = _user(rt, "viewer", "kms:*")
    client = _signed_in(app, viewer_key, viewer_secret)

    page = client.get(f"{KEYS}/{key.id}")
    assert page.status_code == 200
    assert 'id="recent-usage"' not in page.text
    assert "No policy allows you actiontrail:LookupEvents here." in page.text
    decrypt = _trail(rt, eventName="Decrypt")[0]
    for path in (AUDIT, f"{AUDIT}?action=Decrypt", f"{AUDIT}/events/{decrypt['eventId']}?at={decrypt['eventTime']}"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "no policy allows actiontrail:LookupEvents" in refused.text
        assert decrypt["eventId"] not in refused.text
    token = client.csrf(f"{KEYS}/{key.id}")
    blob = client.post(f"{AUDIT}/ciphertext", {"csrf_token": token, "ciphertext": "AAAA"})
    assert blob.status_code == 403  # not even the hash is given
    assert "hmac-sha256" not in blob.text
    refusals = _trail(rt, eventName="LookupEvents", errorCode="AccessDenied")
    assert len(refusals) == 4
    assert {e["userIdentity"]["userName"] for e in refusals} == {"viewer"}


def test_a_ram_user_allowed_to_look_up_events_sees_the_accounts_events_only(rt: Inproc, app: ASGIApp) -> None:
    key = rt.runtime.services.keys.create_key(rt.caller, CreateKeyRequest())
    _encrypt_and_decrypt(rt, key.id)
    auditor_key, auditor_secret = _user(rt, "auditor", "actiontrail:LookupEvents", "kms:DescribeKey")
    stranger = rt.runtime.services.identity.create_access_key(new_account=True)
    stranger_caller = Caller(stranger.access_key.account_uid, "cn-hangzhou")
    theirs = rt.runtime.services.keys.create_key(stranger_caller, CreateKeyRequest())
    plaintext = base64.b64encode(b"x").decode()
    rt.access_key_id, rt.secret = stranger.access_key.id, stranger.secret
    _ok(rt.request("Encrypt", {"KeyId": theirs.id, "Plaintext": plaintext}))
    stranger_event = _trail(rt, eventName="Encrypt")[-1]

    client = _signed_in(app, auditor_key, auditor_secret)
    page = client.get(f"{KEYS}/{key.id}").text
    assert len(_rows(page, "recent-usage")) == 2
    listed = client.get(f"{AUDIT}?range=all").text
    assert stranger_event["eventId"] not in listed
    assert _trail(rt, eventName="Decrypt")[0]["eventId"] in listed
    assert client.get(f"{AUDIT}/events/{stranger_event['eventId']}").status_code == 404
