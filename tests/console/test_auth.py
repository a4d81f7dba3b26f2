"""Log-on, sessions and CSRF: the console's own gate, in the browser."""

from __future__ import annotations

import base64
import json

from playwright.sync_api import BrowserContext, Page, expect

from openkms.console.auth import COOKIE_NAME, SESSION_SECONDS
from openkms.domain import listing
from openkms.domain.identity import Caller
from tests.console.conftest import User, console_url, csrf_token, log_on, open_create_dialog
from tests.servers import InProcessServer

WRONG = "The AccessKey ID or the AccessKey Secret is wrong."


def session_cookie(context: BrowserContext) -> dict[str, object]:
    cookies = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
    assert len(cookies) == 1
    return dict(cookies[0])


def try_log_on(page: Page, server: InProcessServer, access_key_id: str, secret: str) -> None:
    page.goto(console_url(server, "/login"))
    page.get_by_label("AccessKey ID").fill(access_key_id)
    page.get_by_label("AccessKey Secret").fill(secret)
    page.get_by_role("button", name="Log on").click()


def test_wrong_secret_and_unknown_id_get_the_same_clear_message(
    page: Page, server: InProcessServer, user: User
) -> None:
    try_log_on(page, server, user.access_key_id, user.secret + "x")
    expect(page.get_by_role("alert")).to_have_text(WRONG)
    expect(page.get_by_label("AccessKey ID")).to_have_value(user.access_key_id)
    expect(page.get_by_label("AccessKey Secret")).to_have_value("")  # the secret is never sent back
    try_log_on(page, server, "LTAInobodyhasthisid12345", user.secret)
    expect(page.get_by_role("alert")).to_have_text(WRONG)
    page.goto(console_url(server, "/cn-hangzhou/keys"))
    expect(page).to_have_url(console_url(server, "/login?next=%2Fconsole%2Fcn-hangzhou%2Fkeys"))


def test_a_disabled_access_key_cannot_log_on(page: Page, server: InProcessServer, user: User) -> None:
    server.services.identity.set_enabled(user.access_key_id, False)
    try_log_on(page, server, user.access_key_id, user.secret)
    expect(page.get_by_role("alert")).to_have_text(
        "This AccessKey is disabled. Ask your administrator to enable it or to issue you a new one."
    )


def test_the_session_cookie(page: Page, context: BrowserContext, server: InProcessServer, user: User) -> None:
    log_on(page, server, user)
    cookie = session_cookie(context)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/console"
    now = server.clock.now()
    assert now + SESSION_SECONDS - 120 < float(cookie["expires"]) <= now + SESSION_SECONDS + 120  # type: ignore[arg-type]
    value = str(cookie["value"])
    payload = json.loads(base64.urlsafe_b64decode(value.split(".", maxsplit=1)[0] + "=="))
    # The session id only: who it is lives in the store, under the id's hash.
    assert set(payload) == {"sid", "issued_at", "expires_at", "signed_in"}
    assert payload["signed_in"] is True
    assert user.access_key_id not in value
    assert user.secret not in value
    assert payload["expires_at"] - payload["issued_at"] == SESSION_SECONDS
    # Script on the page cannot read it, and pages are neither cached nor framed.
    assert COOKIE_NAME not in page.evaluate("document.cookie")
    response = page.reload()
    assert response is not None
    headers = response.headers
    assert headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]


def test_a_tampered_cookie_is_not_a_session(page: Page, context: BrowserContext, server: InProcessServer) -> None:
    other_ak, other_secret, other_uid = server.new_account()
    log_on(page, server, User(other_ak, other_secret, other_uid))
    cookie = session_cookie(context)
    payload_b64, signature = str(cookie["value"]).split(".")
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=="))
    payload["expires_at"] += 10 * SESSION_SECONDS  # try to live longer
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    context.add_cookies([{**cookie, "value": f"{forged}.{signature}"}])  # type: ignore[list-item]
    page.goto(console_url(server, "/cn-hangzhou/keys"))
    expect(page).to_have_url(console_url(server, "/login?next=%2Fconsole%2Fcn-hangzhou%2Fkeys"))


def test_the_session_expires_after_8_hours_on_the_runtime_clock(
    page: Page, server: InProcessServer, user: User
) -> None:
    log_on(page, server, user)
    server.clock.advance(SESSION_SECONDS - 60)
    page.reload()
    expect(page.get_by_role("heading", name="Keys")).to_be_visible()  # still signed in
    server.clock.advance(61)
    page.reload()
    expect(page.get_by_role("heading", name="Log on to the KMS console")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Your session has expired. Log on again.")
    page.get_by_label("AccessKey ID").fill(user.access_key_id)
    page.get_by_label("AccessKey Secret").fill(user.secret)
    page.get_by_role("button", name="Log on").click()
    page.wait_for_url("**/cn-hangzhou/keys")


def test_disabling_the_access_key_ends_the_session(page: Page, server: InProcessServer, user: User) -> None:
    log_on(page, server, user)
    server.services.identity.set_enabled(user.access_key_id, False)
    page.reload()
    expect(page.get_by_role("status")).to_have_text(
        "Your AccessKey has been disabled by an administrator, so your session has ended."
    )
    server.services.identity.set_enabled(user.access_key_id, True)
    page.goto(console_url(server, "/cn-hangzhou/keys"))  # the ended session's cookie is gone
    expect(page.get_by_role("heading", name="Log on to the KMS console")).to_be_visible()


def test_deleting_the_access_key_ends_the_session(page: Page, server: InProcessServer, user: User) -> None:
    log_on(page, server, user)
    server.services.identity.delete_access_key(user.access_key_id)
    page.get_by_role("link", name="Aliases").click()
    expect(page.get_by_role("status")).to_have_text("Your AccessKey no longer exists, so your session has ended.")


def test_log_off(page: Page, server: InProcessServer, user: User) -> None:
    log_on(page, server, user)
    page.get_by_role("button", name="Log off").click()
    expect(page.get_by_role("status")).to_have_text("You have logged off.")
    page.goto(console_url(server, "/cn-hangzhou/keys"))
    expect(page.get_by_role("heading", name="Log on to the KMS console")).to_be_visible()


def test_a_missing_or_forged_csrf_token_is_refused(page: Page, server: InProcessServer, user: User) -> None:
    log_on(page, server, user)
    dialog = open_create_dialog(page)
    url = console_url(server, "/cn-hangzhou/keys/create")
    form = {"spec": "Aliyun_AES_256", "rotation_period": "disable"}
    missing = page.request.post(url, form=form)
    forged = page.request.post(url, form={**form, "csrf_token": "A" * 43})
    for response in (missing, forged):
        assert response.status == 403
        assert "security token is missing or does not match your session" in response.text()

    # In the browser: a form whose token was tampered with.
    page.locator("#create-key-form input[name=csrf_token]").evaluate("el => { el.value = 'forged' + el.value; }")
    dialog.get_by_label("Alias Name").fill("never-made")
    dialog.get_by_role("button", name="OK").click()
    expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    expect(page.locator("#error-message")).to_contain_text(
        "This form's security token is missing or does not match your session"
    )

    # A token is bound to its session: after logging on again the old one is refused.
    page.goto(console_url(server, "/cn-hangzhou/keys"))
    old_token = csrf_token(page)
    page.get_by_role("button", name="Log off").click()
    log_on(page, server, user)
    stale = page.request.post(url, form={**form, "csrf_token": old_token})
    assert stale.status == 403
    fresh = page.request.post(url, form={**form, "csrf_token": csrf_token(page)}, max_redirects=0)
    assert fresh.status == 303
    made, total = server.services.keys.list_keys(Caller(user.account_uid, "cn-hangzhou"), listing.Page())
    assert total == 1  # only the request with the session's own token made a key
    assert fresh.headers["location"].endswith(f"/keys/{made[0].id}?done=created")


def test_the_log_on_form_needs_its_cookie_and_token(
    page: Page, context: BrowserContext, server: InProcessServer
) -> None:
    page.goto(console_url(server, "/login"))
    token = csrf_token(page)
    forged = page.request.post(
        console_url(server, "/login"), form={"csrf_token": "x", "access_key_id": "a", "access_key_secret": "b"}
    )
    assert forged.status == 403
    context.clear_cookies()
    no_cookie = page.request.post(
        console_url(server, "/login"), form={"csrf_token": token, "access_key_id": "a", "access_key_secret": "b"}
    )
    assert no_cookie.status == 403
    assert "did not send the console&#39;s session cookie" in no_cookie.text()


def test_next_is_kept_through_log_on_and_never_leaves_the_console(
    page: Page, server: InProcessServer, user: User
) -> None:
    page.goto(console_url(server, "/ap-southeast-1/aliases"))
    page.get_by_label("AccessKey ID").fill(user.access_key_id)
    page.get_by_label("AccessKey Secret").fill(user.secret)
    page.get_by_role("button", name="Log on").click()
    page.wait_for_url("**/ap-southeast-1/aliases")
    page.get_by_role("button", name="Log off").click()
    page.goto(console_url(server, "/login?next=//evil.example/x"))
    page.get_by_label("AccessKey ID").fill(user.access_key_id)
    page.get_by_label("AccessKey Secret").fill(user.secret)
    page.get_by_role("button", name="Log on").click()
    page.wait_for_url(console_url(server, "/cn-hangzhou/keys"))
