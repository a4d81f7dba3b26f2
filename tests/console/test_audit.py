"""Reading the audit trail in a real browser: a Decrypt made through Alibaba's SDK on the key's page
(who, when, from where), the Audit page filtered by action and by AccessKey, the ciphertext lookup,
one event's JSON, and a RAM user without actiontrail:LookupEvents refused both."""

from __future__ import annotations

import base64
import json
import re

from alibabacloud_kms20160120 import models as kms
from alibabacloud_kms20160120.client import Client
from alibabacloud_tea_openapi.models import Config
from playwright.sync_api import Page, expect

from openkms.domain.identity import Caller
from openkms.domain.ram.identities import PolicyType
from openkms.service.keys import CreateKeyRequest
from openkms.service.ram_users import UserFields
from tests.console.conftest import User, console_url, log_on, screenshot
from tests.servers import InProcessServer


def sdk(server: InProcessServer, access_key_id: str, secret: str) -> Client:
    config = Config(access_key_id=access_key_id, access_key_secret=secret, endpoint=server.endpoint, protocol="http")
    return Client(config)


def ram_user(server: InProcessServer, admin: User, name: str, *actions: str) -> User:
    """Made through the services: a RAM user of ``admin``'s account allowed ``actions`` on everything."""
    root, services = Caller(admin.account_uid, "cn-hangzhou"), server.services
    services.ram_users.create_user(root, name, UserFields())
    statement = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
    services.ram_policies.create_policy(root, f"{name}-policy", json.dumps({"Version": "1", "Statement": [statement]}))
    services.ram_policies.attach(root, PolicyType.CUSTOM, f"{name}-policy", name)
    issued = services.ram_users.create_access_key(root, name)
    return User(issued.access_key.id, issued.secret, admin.account_uid)


def test_a_decrypt_through_the_sdk_is_on_the_key_page_and_the_audit_page_finds_it(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    page = signed_in
    key = server.services.keys.create_key(Caller(user.account_uid, "cn-hangzhou"), CreateKeyRequest())
    client = sdk(server, user.access_key_id, user.secret)
    plaintext = base64.b64encode(b"payroll").decode()
    made = client.encrypt(kms.EncryptRequest(key_id=key.id, plaintext=plaintext)).body
    assert made is not None
    blob = str(made.ciphertext_blob)
    client.decrypt(kms.DecryptRequest(ciphertext_blob=blob))
    app = ram_user(server, user, "app", "kms:Encrypt")
    sdk(server, app.access_key_id, app.secret).encrypt(kms.EncryptRequest(key_id=key.id, plaintext=plaintext))

    # The key's page: who decrypted, when, from where, and that it was allowed.
    page.goto(console_url(server, f"/cn-hangzhou/keys/{key.id}"))
    usage = page.locator("#recent-usage")
    decrypt = usage.locator("tbody tr", has_text="Decrypt")
    expect(decrypt).to_have_count(1)
    for shown in ("root account", user.access_key_id, "127.0.0.1", "API", "Allowed"):
        expect(decrypt).to_contain_text(shown)
    expect(decrypt.locator("td").first).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"))  # UTC
    expect(usage.locator("tbody tr", has_text="app")).to_contain_text("(RAM user)")
    usage.scroll_into_view_if_needed()
    screenshot(page, "key-recent-usage")

    # The Audit page, from the navigation: by action, then by AccessKey.
    page.get_by_role("navigation", name="ActionTrail").get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit", exact=True)).to_be_visible()
    page.get_by_label("Action", exact=True).fill("Decrypt")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit-events tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Decrypt")
    page.get_by_label("Action", exact=True).fill("")
    page.get_by_label("AccessKey ID").fill(app.access_key_id)
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Encrypt")
    expect(rows.first).to_contain_text(app.access_key_id)

    # Was this blob decrypted? Its Encrypt and its Decrypt, not the other Encrypt.
    page.get_by_label("CiphertextBlob").fill(blob)
    page.get_by_role("button", name="Find its events").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Decrypt")
    expect(rows.nth(1)).to_contain_text("Encrypt")
    expect(page.get_by_label("Hashed value")).to_have_value(server.services.audit.keyed_hash(blob.encode()))
    assert blob not in page.content()
    screenshot(page, "audit-ciphertext-lookup")

    # One event whole: the trail's JSON, the blob only as its keyed hash.
    rows.nth(0).locator("td").first.get_by_role("link").click()  # its time
    document = json.loads(page.locator("#event-json").inner_text())
    assert document["eventName"] == "Decrypt"
    assert document["sourceIpAddress"] == "127.0.0.1"
    assert document["requestParameters"]["CiphertextBlob"] == server.services.audit.keyed_hash(blob.encode())


def test_a_ram_user_without_lookup_events_sees_no_usage_and_is_refused_the_audit_page(
    page: Page, server: InProcessServer, user: User
) -> None:
    key = server.services.keys.create_key(Caller(user.account_uid, "cn-hangzhou"), CreateKeyRequest())
    viewer = ram_user(server, user, "viewer", "kms:*")
    log_on(page, server, viewer)
    page.goto(console_url(server, f"/cn-hangzhou/keys/{key.id}"))
    expect(page.locator("#key-id")).to_have_text(key.id)
    expect(page.locator("#recent-usage")).to_have_count(0)
    expect(page.locator('[data-denied="LookupEvents"]')).to_have_text(
        "No policy allows you actiontrail:LookupEvents here."
    )
    page.get_by_role("navigation", name="ActionTrail").get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.locator("main")).to_contain_text("no policy allows actiontrail:LookupEvents")
