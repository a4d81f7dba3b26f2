"""Access control in the console, in the browser: the administrator builds a restricted RAM user
(user, policy — a malformed one refused with its line —, attachment, AccessKey with its secret
shown once), the user logs on with it and sees only what its policy allows; log-off and a disabled
AccessKey end sessions on the server."""

from __future__ import annotations

import json

from playwright.sync_api import BrowserContext, Page, expect

from openkms.console.auth import COOKIE_NAME
from openkms.domain.identity import Caller
from openkms.domain.keys import Key
from openkms.domain.ram.identities import PolicyType
from openkms.service.keys import CreateKeyRequest
from openkms.service.ram_users import UserFields
from tests.console.conftest import User, console_url, log_on
from tests.servers import InProcessServer

MALFORMED = """{
  "Version": "1",
  "Statement": [
    {
      "Action": ["kms:Encrypt", "kms:DescribeKey"],
      "Resource": ["%s"],
      "Effect": "Permit"
    }
  ]
}"""


def root(user: User) -> Caller:
    return Caller(user.account_uid, "cn-hangzhou", user.access_key_id)


def two_keys(server: InProcessServer, user: User) -> tuple[Key, Key]:
    keys = server.services.keys
    return keys.create_key(root(user), CreateKeyRequest()), keys.create_key(root(user), CreateKeyRequest())


def only_encrypt_and_describe(key: Key) -> str:
    return MALFORMED.replace("Permit", "Allow") % key.arn()


def restricted_user(server: InProcessServer, admin: User, key: Key, name: str = "app") -> User:
    """Made through the services: a user whose policy allows Encrypt and DescribeKey on ``key``."""
    services = server.services
    services.ram_users.create_user(root(admin), name, UserFields())
    services.ram_policies.create_policy(root(admin), f"{name}-policy", only_encrypt_and_describe(key))
    services.ram_policies.attach(root(admin), PolicyType.CUSTOM, f"{name}-policy", name)
    issued = services.ram_users.create_access_key(root(admin), name)
    return User(issued.access_key.id, issued.secret, admin.account_uid)


def log_off(page: Page) -> None:
    page.get_by_role("button", name="Log off").click()
    expect(page.get_by_role("status")).to_have_text("You have logged off.")


def test_the_administrator_builds_a_restricted_user_who_sees_only_its_key(
    page: Page, server: InProcessServer, user: User
) -> None:
    mine, other = two_keys(server, user)
    log_on(page, server, user)
    ram = page.get_by_role("navigation", name="RAM")

    # A user.
    ram.get_by_role("link", name="Users").click()
    page.get_by_label("User Name").fill("app")
    page.get_by_label("Display Name").fill("The application")
    page.get_by_role("button", name="Create User").click()
    expect(page.get_by_role("heading", name="User app")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("The user was created.")

    # A policy: refused next to the editor with its line, then made.
    ram.get_by_role("link", name="Policies").click()
    page.get_by_role("link", name="Create Policy").click()
    page.get_by_label("Policy Name").fill("app-encrypt")
    page.get_by_label("Policy Document").fill(MALFORMED % mine.arn())
    page.get_by_role("button", name="Create Policy").click()
    expect(page.locator("#document-error")).to_have_text('line 7: "Effect" must be "Allow" or "Deny"')
    expect(page.get_by_label("Policy Document")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Policy Document").fill(only_encrypt_and_describe(mine))
    page.get_by_role("button", name="Create Policy").click()
    expect(page.get_by_role("heading", name="Policy app-encrypt")).to_be_visible()

    # Attached from the policy's page; the user's page lists it.
    page.get_by_label("User", exact=True).select_option("app")
    page.get_by_role("button", name="Attach to user").click()
    expect(page.get_by_role("status")).to_have_text("The policy was attached.")
    expect(page.locator("#policy-entities")).to_contain_text("app")
    page.locator("#policy-entities").get_by_role("link", name="app").click()
    expect(page.locator("#user-policies")).to_contain_text("app-encrypt")

    # An AccessKey: the secret is on the answering page and never again.
    page.get_by_role("button", name="Create AccessKey").click()
    access_key_id = page.locator("#issued-id").inner_text()
    secret = page.locator("#issued-secret").inner_text()
    assert len(secret) == 30
    page.goto(console_url(server, "/cn-hangzhou/ram/users/app"))
    expect(page.locator("#access-keys")).to_contain_text(access_key_id)
    assert secret not in page.content()

    # The user logs on with it: only its key, and no administration of it.
    log_off(page)
    log_on(page, server, User(access_key_id, secret, user.account_uid))
    expect(page.locator(".who")).to_contain_text("user app")
    rows = page.locator("#keys-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(mine.id)
    assert other.id not in page.content()
    expect(page.locator("#create-key")).to_be_disabled()
    rows.first.get_by_role("link", name=mine.id).click()
    expect(page.locator("#key-id")).to_have_text(mine.id)
    expect(page.get_by_role("button", name="Disable")).to_be_disabled()
    expect(page.get_by_role("button", name="Schedule deletion")).to_be_disabled()
    expect(page.get_by_role("button", name="Turn deletion protection on")).to_be_disabled()
    expect(page.get_by_role("button", name="Add alias")).to_have_count(0)
    expect(page.get_by_role("button", name="Add tag")).to_have_count(0)
    expect(page.locator("[data-denied=CreateAlias]")).to_have_text("No policy allows you kms:CreateAlias here.")

    # The RAM area and another key are refused with the 403 page.
    response = page.goto(console_url(server, "/cn-hangzhou/ram/users"))
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.locator("#error-message")).to_contain_text("no policy allows ram:ListUsers")
    response = page.goto(console_url(server, f"/cn-hangzhou/keys/{other.id}"))
    assert response is not None
    assert response.status == 403


def test_a_keys_page_shows_its_policy_and_who_may_use_it(page: Page, server: InProcessServer, user: User) -> None:
    mine, _ = two_keys(server, user)
    restricted_user(server, user, mine, "reader")
    server.services.ram_users.create_user(root(user), "bystander", UserFields())
    log_on(page, server, user)
    page.goto(console_url(server, f"/cn-hangzhou/keys/{mine.id}"))
    policy = json.loads(page.locator("#key-policy").inner_text())
    assert policy["Statement"][0]["Principal"] == {"RAM": [f"acs:ram::{user.account_uid}:*"]}
    expect(page.locator("#key-principals")).to_have_text(f"acs:ram::{user.account_uid}:*")
    users = page.locator("#key-users tbody tr")
    expect(users).to_have_count(1)
    expect(users.first).to_have_text("readerEncrypt")


def test_logging_off_ends_the_session_for_a_copy_of_its_cookie(
    page: Page, context: BrowserContext, server: InProcessServer, user: User
) -> None:
    log_on(page, server, user)
    copied = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
    log_off(page)
    context.add_cookies(copied)  # type: ignore[arg-type]
    page.goto(console_url(server, "/cn-hangzhou/keys"))
    expect(page.get_by_role("heading", name="Log on to the KMS console")).to_be_visible()
    ended = "This session has ended: it was logged off or revoked. Log on again."
    expect(page.get_by_role("status")).to_have_text(ended)


def test_disabling_or_detaching_takes_effect_on_the_next_request(
    page: Page, server: InProcessServer, user: User
) -> None:
    mine, _ = two_keys(server, user)
    app = restricted_user(server, user, mine)
    log_on(page, server, app)
    expect(page.locator("#keys-table tbody tr")).to_have_count(1)
    server.services.ram_policies.detach(root(user), PolicyType.CUSTOM, "app-policy", "app")
    page.reload()
    expect(page.locator("#keys-table")).to_contain_text("There are no keys in this region yet")
    server.services.ram_users.update_access_key(root(user), app.access_key_id, False, "app")
    page.reload()
    expect(page.get_by_role("status")).to_have_text(
        "Your AccessKey has been disabled by an administrator, so your session has ended."
    )
