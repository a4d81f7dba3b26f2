"""Keyboard use, labelled fields, visible focus, and a laptop-sized screen."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from openkms.domain.identity import Caller
from openkms.domain.specs import Origin
from openkms.service.keys import CreateKeyRequest
from tests.console.conftest import VIEWPORT, User, console_url, open_create_dialog
from tests.servers import InProcessServer

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden')
  .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML)"""

FOCUS_OUTLINE = "() => getComputedStyle(document.activeElement).outlineStyle"


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]


def test_every_field_has_a_label(page: Page, server: InProcessServer, user: User) -> None:
    page.goto(console_url(server, "/login"))
    assert page.evaluate(UNLABELLED) == []
    page.get_by_label("AccessKey ID").fill(user.access_key_id)
    page.get_by_label("AccessKey Secret").fill(user.secret)
    page.get_by_role("button", name="Log on").click()
    page.wait_for_url("**/keys")
    assert page.evaluate(UNLABELLED) == []
    dialog = open_create_dialog(page)
    assert page.evaluate(UNLABELLED) == []
    dialog.get_by_role("button", name="OK").click()
    page.wait_for_url("**/keys/*")
    assert page.evaluate(UNLABELLED) == []


def test_the_seed_walk_by_keyboard_alone(page: Page, server: InProcessServer, user: User) -> None:
    page.goto(console_url(server, "/login"))
    expect(page.get_by_label("AccessKey ID")).to_be_focused()
    page.keyboard.type(user.access_key_id)
    page.keyboard.press("Tab")
    page.keyboard.type(user.secret)
    page.keyboard.press("Enter")
    page.wait_for_url("**/cn-hangzhou/keys")

    # Tab through the top bar: the focus is always visible.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Region")).to_be_focused()
    assert page.evaluate(FOCUS_OUTLINE) != "none"

    # Create Key, then Escape closes the dialog.
    page.get_by_role("link", name="Create Key").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create Key")
    expect(dialog.get_by_label("Key Spec")).to_be_focused()
    page.keyboard.press("Escape")
    page.wait_for_url("**/cn-hangzhou/keys")
    expect(page.get_by_role("dialog")).to_have_count(0)

    # Again, filling the dialog from the keyboard: the alias, Advanced, then Enter submits.
    page.get_by_role("link", name="Create Key").focus()
    page.keyboard.press("Enter")
    expect(dialog.get_by_label("Key Spec")).to_be_focused()
    while not dialog.get_by_label("Alias Name").evaluate("el => el === document.activeElement"):
        page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_OUTLINE) != "none"
    page.keyboard.type("by-keyboard")
    dialog.locator("summary").focus()
    page.keyboard.press("Enter")  # opens Advanced
    expect(dialog.get_by_label("Alibaba Cloud KMS")).to_be_visible()
    dialog.get_by_label("Alias Name").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/keys/*?done=created")
    expect(page.locator("#key-aliases")).to_contain_text("alias/by-keyboard")


def test_pages_fit_a_laptop_screen(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    caller = Caller(user.account_uid, "cn-hangzhou", user.access_key_id)
    key = server.services.keys.create_key(caller, CreateKeyRequest(spec="RSA_3072", alias="alias/" + "long-" * 20))
    external = server.services.keys.create_key(
        caller, CreateKeyRequest(spec="Aliyun_AES_128", origin=Origin.EXTERNAL, alias="alias/" + "wide-" * 20)
    )
    page.reload()
    no_horizontal_scroll(page)
    # The widest row (a long alias, PendingImport) still fits: no column is cut off.
    assert page.locator(".table-wrap").evaluate("el => el.scrollWidth <= el.clientWidth")
    dialog = open_create_dialog(page)
    box = dialog.bounding_box()
    assert box is not None
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= VIEWPORT["height"]
    expect(dialog.get_by_role("button", name="OK")).to_be_in_viewport()
    page.goto(console_url(server, f"/cn-hangzhou/keys/{key.id}"))
    no_horizontal_scroll(page)
    expect(page.locator("#key-props")).to_be_in_viewport()
    expect(page.get_by_role("heading", name="Status and deletion")).to_be_in_viewport()
    # An External key waiting for its material: both import steps on the first screen.
    page.goto(console_url(server, f"/cn-hangzhou/keys/{external.id}"))
    no_horizontal_scroll(page)
    expect(page.get_by_role("button", name="Get parameters")).to_be_in_viewport()
    expect(page.get_by_role("button", name="Import key material")).to_be_in_viewport()


def test_the_create_key_dialog_works_without_javascript(browser: Browser, server: InProcessServer, user: User) -> None:
    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(console_url(server, "/login"))
        page.get_by_label("AccessKey ID").fill(user.access_key_id)
        page.get_by_label("AccessKey Secret").fill(user.secret)
        page.get_by_role("button", name="Log on").click()
        page.wait_for_url("**/cn-hangzhou/keys")
        # The region switch needs its button without script.
        page.get_by_label("Region").select_option("cn-beijing")
        page.get_by_role("button", name="Switch").click()
        page.wait_for_url("**/cn-beijing/keys")
        page.get_by_role("link", name="Create Key").click()
        dialog = page.get_by_role("dialog", name="Create Key")
        expect(dialog).to_be_visible()
        # Without script the dialog cannot follow the spec: the server refuses what the spec forbids.
        dialog.get_by_label("Key Spec").select_option("EC_P256")
        dialog.get_by_label("Rotation Period").select_option("30")
        dialog.get_by_role("button", name="OK").click()
        expect(dialog.locator("#usage-error")).to_have_text("KeySpec EC_P256 allows only SIGN/VERIFY.")
        # Re-rendered for EC_P256: Encrypt/Decrypt disabled, Rotation Period hidden.
        expect(dialog.get_by_label("Encrypt/Decrypt")).to_be_disabled()
        expect(dialog.get_by_label("Sign/Verify")).to_be_checked()
        expect(dialog.locator("#rotation-field")).to_be_hidden()
        dialog.get_by_label("Alias Name").fill("no-script")
        dialog.get_by_role("button", name="OK").click()
        page.wait_for_url("**/cn-beijing/keys/*?done=created")
        expect(page.locator("#key-spec")).to_have_text("EC_P256")
        expect(page.locator("#key-aliases")).to_contain_text("alias/no-script")
    finally:
        context.close()
