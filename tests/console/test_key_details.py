"""The key details page's actions, each checked in the page and in the service layer behind it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from openkms.domain import listing
from openkms.domain.identity import Caller
from openkms.domain.keys import Key
from openkms.domain.rotation import DAY
from openkms.domain.states import KeyState
from openkms.service.keys import CreateKeyRequest
from tests.console.conftest import User, console_url
from tests.servers import InProcessServer


def new_key(server: InProcessServer, user: User, **kw: object) -> Key:
    return server.services.keys.create_key(Caller(user.account_uid, "cn-hangzhou"), CreateKeyRequest(**kw))  # type: ignore[arg-type]


def current(server: InProcessServer, user: User, key_id: str) -> Key:
    return server.services.keys.describe_key(Caller(user.account_uid, "cn-hangzhou"), key_id)


def open_key(page: Page, server: InProcessServer, key_id: str) -> None:
    page.goto(console_url(server, f"/cn-hangzhou/keys/{key_id}"))
    expect(page.locator("#key-id")).to_have_text(key_id)


def test_enable_disable_deletion_and_protection(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    key = new_key(server, user)
    open_key(page, server, key.id)

    page.get_by_role("button", name="Disable").click()
    expect(page.locator("#key-state")).to_have_text("Disabled")
    assert current(server, user, key.id).state is KeyState.DISABLED
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("#key-state")).to_have_text("Enabled")

    # Deletion protection blocks scheduling deletion; a crafted request is refused by the service.
    page.get_by_label("Deletion protection note").fill("payments production")
    page.get_by_role("button", name="Turn deletion protection on").click()
    expect(page.locator("#key-protection-flag")).to_have_text("Enabled · payments production")
    expect(page.get_by_role("button", name="Schedule deletion")).to_be_disabled()
    page.locator("#window_days").evaluate("el => el.form.querySelector('button').disabled = false")
    page.get_by_role("button", name="Schedule deletion").click()
    expect(page.locator("#schedule-deletion-error")).to_contain_text("The key is protected from deletion.")
    assert current(server, user, key.id).state is KeyState.ENABLED
    page.get_by_role("button", name="Turn deletion protection off").click()
    expect(page.locator("#key-protection-flag")).to_have_text("Disabled")

    # The window's bounds are the domain's (7-366 days).
    page.get_by_label("Schedule deletion after").fill("3")
    page.get_by_role("button", name="Schedule deletion").click()
    expect(page.locator("#schedule-deletion-error")).to_have_text("The window is from 7 to 366 days.")
    page.get_by_label("Schedule deletion after").fill("7")
    page.get_by_role("button", name="Schedule deletion").click()
    expect(page.locator("#key-state")).to_contain_text("PendingDeletion")
    after = current(server, user, key.id)
    assert after.delete_at is not None
    assert abs(after.delete_at - (server.clock.now() + 7 * DAY)) < 5
    expect(page.get_by_role("button", name="Disable")).to_have_count(0)
    page.get_by_role("button", name="Cancel deletion").click()
    expect(page.locator("#key-state")).to_have_text("Enabled")
    assert current(server, user, key.id).delete_at is None


def test_description_rotation_aliases_and_tags(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    key = new_key(server, user, description="before")
    open_key(page, server, key.id)

    page.locator("#edit-description").fill("after <b>not bold</b>")
    page.get_by_role("button", name="Save description").click()
    expect(page.locator("#key-description")).to_have_text("after <b>not bold</b>")  # escaped, shown as typed
    assert current(server, user, key.id).description == "after <b>not bold</b>"

    rotation = page.locator("#rotation-form")
    rotation.get_by_label("Rotation Period").select_option("180")
    rotation.get_by_role("button", name="Save rotation policy").click()
    expect(page.locator("#rotation-interval")).to_have_text("180 days")
    assert current(server, user, key.id).rotation_interval == 180 * DAY
    rotation.get_by_label("Rotation Period").select_option("custom")
    rotation.get_by_label("Days (7–730)").fill("800")
    rotation.get_by_role("button", name="Save rotation policy").click()
    expect(page.locator("#rotation-error")).to_have_text("The rotation interval must be from 7 days to 730 days.")
    assert current(server, user, key.id).rotation_interval == 180 * DAY
    rotation.get_by_label("Rotation Period").select_option("disable")
    rotation.get_by_role("button", name="Save rotation policy").click()
    expect(page.locator("#rotation-status")).to_have_text("Disabled")
    assert not current(server, user, key.id).rotation_enabled

    page.get_by_label("Alias Name").fill("has space")
    page.get_by_role("button", name="Add alias").click()
    expect(page.locator("#alias-add-error")).to_contain_text("An alias is alias/ followed by")
    page.get_by_label("Alias Name").fill("billing")
    page.get_by_role("button", name="Add alias").click()
    expect(page.locator("#key-aliases")).to_contain_text("alias/billing")
    assert current(server, user, "alias/billing").id == key.id
    page.get_by_role("button", name="Remove alias alias/billing").click()
    expect(page.locator("#key-aliases")).to_have_text("No aliases.")
    assert server.services.aliases.list_aliases(Caller(user.account_uid, "cn-hangzhou"), listing.Page())[1] == 0

    page.get_by_label("Tag key").fill("aliyun:reserved")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator("#tag-add-error")).to_have_text("A TagKey must not start with 'aliyun' or 'acs:'.")
    page.get_by_label("Tag key").fill("env")
    page.get_by_label("Value").fill("prod")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator("#key-tags")).to_contain_text("env: prod")
    page.get_by_role("button", name="Remove tag env").click()
    expect(page.locator("#key-tags")).to_have_text("No tags.")
    assert server.services.tags.list_tags(Caller(user.account_uid, "cn-hangzhou"), key.id)[1] == []


def test_an_alias_of_another_key_is_not_removed_from_this_keys_page(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    page = signed_in
    mine = new_key(server, user, alias="alias/mine")
    other = new_key(server, user, alias="alias/other")
    open_key(page, server, mine.id)
    page.locator("#key-aliases input[name=alias]").evaluate("el => { el.value = 'alias/other'; }")
    page.get_by_role("button", name="Remove alias alias/mine").click()
    expect(page.locator("#alias-remove-error")).to_have_text("The specified Alias is not found.")
    assert current(server, user, "alias/other").id == other.id


def test_public_key_download_needs_an_enabled_asymmetric_key(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    page = signed_in
    rsa = new_key(server, user, spec="RSA_2048")
    aes = new_key(server, user)
    caller = Caller(user.account_uid, "cn-hangzhou")
    open_key(page, server, rsa.id)
    expect(page.get_by_role("link", name="Download public key (PEM)")).to_have_count(1)
    server.services.keys.disable_key(caller, rsa.id)
    page.reload()
    expect(page.get_by_role("link", name="Download public key (PEM)")).to_have_count(0)
    expect(page.locator("#versions-table")).to_contain_text("Enable the key to download")
    url = console_url(server, f"/cn-hangzhou/keys/{rsa.id}/versions/{rsa.primary_version_id}/public-key.pem")
    response = page.request.get(url)
    assert response.status == 409
    assert "key state is Disabled" in response.text()
    open_key(page, server, aes.id)
    expect(page.locator("#versions-table thead")).not_to_contain_text("Public key")
    response = page.request.get(
        console_url(server, f"/cn-hangzhou/keys/{aes.id}/versions/{aes.primary_version_id}/public-key.pem")
    )
    assert response.status == 400
