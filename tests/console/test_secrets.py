"""The Secrets page in the browser: create a secret with its value in a password field, find it in
the list, reveal its value only by clicking (audited, never cached), put a new value and see the
stages move, delete it with a recovery window and restore it; and what a user with read access
only is refused."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from openkms.domain.identity import Caller
from openkms.domain.ram.identities import PolicyType
from openkms.service.ram_users import UserFields
from openkms.service.secrets import CreateSecretRequest
from tests.audit_support import events
from tests.console.conftest import User, console_url, force_enable, log_on, screenshot
from tests.servers import InProcessServer

VALUE = "pg-Password-81zQ!"
NEW_VALUE = "pg-Password-27xH?"
NAME = "app/orders-db"


def root(user: User) -> Caller:
    return Caller(user.account_uid, "cn-hangzhou", user.access_key_id)


def trail(server: InProcessServer, user: User, name: str) -> list[dict[str, object]]:
    """The account's events named ``name``, as the audit trail holds them."""
    found = events(server.data_dir / "audit")
    return [e for e in found if e["eventName"] == name and e["recipientAccountId"] == user.account_uid]


def version_rows(page: Page) -> dict[str, str]:
    """Each version's stages as the table shows them, by version id."""
    rows = page.locator("#versions-table tbody tr[data-version]")
    return {
        str(rows.nth(i).get_attribute("data-version")): rows.nth(i).locator(".stages").inner_text().strip()
        for i in range(rows.count())
    }


def test_create_list_reveal_put_delete_and_restore(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    page.get_by_role("navigation", name="Key Management Service").get_by_role("link", name="Secrets").click()
    expect(page.get_by_role("heading", name="Secrets", exact=True)).to_be_visible()
    screenshot(page, "secrets-page")

    # Create: the value goes in a password field and is in no page afterwards.
    page.get_by_label("Secret Name", exact=True).fill(NAME)
    value_field = page.get_by_label("Secret Value")
    expect(value_field).to_have_attribute("type", "password")
    value_field.fill(VALUE)
    page.get_by_label("Description").fill("The orders database")
    page.get_by_role("button", name="Create Secret").click()
    expect(page.get_by_role("status")).to_have_text("The secret was created.")
    expect(page.locator("#secret-name")).to_have_text(NAME)
    expect(page.locator("#secret-key")).to_contain_text("service-managed key")
    assert VALUE not in page.content()

    # Listed, and found by a part of its name.
    page.get_by_role("link", name="Secrets", exact=True).first.click()
    page.get_by_label("Secret name", exact=True).fill("ORDERS")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#secrets-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Generic")
    rows.first.get_by_role("link", name=NAME).click()
    (first_version,) = version_rows(page)
    assert version_rows(page) == {first_version: "ACSCurrent"}
    assert VALUE not in page.content()

    # Revealed on a click: a POST whose answer is not cached, recorded as GetSecretValue.
    with page.expect_response(lambda r: r.url.endswith("/reveal")) as answered:
        page.get_by_role("button", name=f"Reveal the value of version {first_version}").click()
    assert answered.value.headers["cache-control"] == "no-store"
    expect(page.locator("#revealed-value")).to_have_text(VALUE)
    (read,) = trail(server, user, "GetSecretValue")
    assert (read["eventType"], read["errorCode"]) == ("ConsoleOperation", "")
    assert VALUE not in json.dumps(read)

    # A new value: ACSCurrent moves to it, the first version becomes ACSPrevious.
    page.get_by_label("New value", exact=True).fill(NEW_VALUE)
    page.get_by_label("Version ID").fill("v2")
    page.get_by_role("button", name="Put value").click()
    expect(page.get_by_role("status")).to_have_text("The new value was stored.")
    assert version_rows(page) == {first_version: "ACSPrevious", "v2": "ACSCurrent"}
    assert NEW_VALUE not in page.content()
    assert VALUE not in page.content()
    page.get_by_role("button", name="Reveal the value of version v2").click()
    expect(page.locator("#revealed-value")).to_have_text(NEW_VALUE)
    expect(page.locator("#revealed-version")).to_have_text("v2")
    screenshot(page, "secret-revealed")

    # Rotate now: a Generic secret has no rotator, refused as the API refuses it.
    page.get_by_role("button", name="Rotate now").click()
    expect(page.locator("#rotate-error")).to_have_text("A Generic secret is rotated with PutSecretValue.")

    # Deleted with a recovery window: unreadable until restored.
    page.get_by_label("Recovery window").fill("7")
    before = int(server.clock.now())
    page.get_by_role("button", name="Delete secret").click()
    expect(page.get_by_role("status")).to_have_text("The secret is scheduled for deletion.")
    expect(page.locator("#secret-state")).to_contain_text("Pending deletion")
    planned = server.services.secrets.describe_secret(root(user), NAME).delete_at
    assert planned is not None
    assert before <= planned - 7 * 86_400 <= int(server.clock.now())
    page.get_by_role("button", name="Reveal the value of version v2").click()
    expect(page.locator("#reveal-error")).to_have_text(
        "The request was rejected because the secret is scheduled for deletion."
    )
    page.get_by_role("button", name="Restore").click()
    expect(page.get_by_role("status")).to_have_text("The secret was restored.")
    expect(page.locator("#secret-state")).to_have_text("Active")
    assert server.services.secrets.get_secret_value(root(user), NAME).data == NEW_VALUE


READ_ONLY = """{"Version": "1", "Statement": [{"Effect": "Allow",
  "Action": ["kms:ListSecrets", "kms:DescribeSecret", "kms:ListSecretVersionIds"],
  "Resource": ["acs:kms:*:*:secret", "acs:kms:*:*:secret/*"]}]}"""


def test_a_user_with_read_access_only_is_refused_the_value(page: Page, server: InProcessServer, user: User) -> None:
    services = server.services
    services.secrets.create_secret(root(user), CreateSecretRequest(NAME, "v1", VALUE))
    services.ram_users.create_user(root(user), "auditor", UserFields())
    services.ram_policies.create_policy(root(user), "secrets-read", READ_ONLY)
    services.ram_policies.attach(root(user), PolicyType.CUSTOM, "secrets-read", "auditor")
    issued = services.ram_users.create_access_key(root(user), "auditor")

    log_on(page, server, User(issued.access_key.id, issued.secret, user.account_uid))
    page.goto(console_url(server, "/cn-hangzhou/secrets"))
    expect(page.locator("#secrets-table tbody tr")).to_have_count(1)
    expect(page.locator("[data-denied=CreateSecret]")).to_have_text("No policy allows you kms:CreateSecret here.")
    page.get_by_role("link", name=NAME).click()
    reveal = page.get_by_role("button", name="Reveal")
    expect(reveal).to_be_disabled()
    expect(page.get_by_role("button", name="Delete secret")).to_be_disabled()

    # A crafted click on the disabled button: the service refuses it, and the refusal is recorded.
    force_enable(page, "button[data-denied=GetSecretValue]")
    reveal.click()
    arn = f"acs:kms:cn-hangzhou:{user.account_uid}:secret/{NAME}"
    expect(page.locator("#reveal-error")).to_have_text(
        f"You are not allowed to do this: no policy allows kms:GetSecretValue on {arn}."
        " Ask your administrator for a policy that allows it."
    )
    assert VALUE not in page.content()
    (refused,) = trail(server, user, "GetSecretValue")
    assert (refused["errorCode"], refused["userIdentity"]["userName"]) == ("AccessDenied", "auditor")  # type: ignore[index]
