"""What the Create Key dialog refuses, each refusal shown next to the field it concerns, and what the
server refuses again when a request is crafted around the dialog."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from openkms.domain import listing
from openkms.domain.identity import Caller
from openkms.domain.specs import ProtectionLevel
from tests.console.conftest import User, console_url, csrf_token, field_error, force_enable, open_create_dialog
from tests.servers import InProcessServer


def key_count(server: InProcessServer, user: User, region: str = "cn-hangzhou") -> int:
    return server.services.keys.list_keys(Caller(user.account_uid, region), listing.Page())[1]


@pytest.mark.parametrize(
    ("alias", "message"),
    [
        ("bad alias!", "An alias is alias/ followed by 1 to 255 letters, digits, '_', '/' or '-'."),
        ("acs/reserved", "The prefix alias/acs is reserved."),
        ("x" * 256, "An alias is alias/ followed by 1 to 255 letters, digits, '_', '/' or '-'."),
    ],
)
def test_a_bad_alias_is_refused_next_to_alias_name(
    signed_in: Page, server: InProcessServer, user: User, alias: str, message: str
) -> None:
    page = signed_in
    dialog = open_create_dialog(page)
    dialog.get_by_label("Alias Name").fill(alias)
    dialog.get_by_label("Description").fill("kept after the error")
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#alias-error")).to_have_text(message)
    expect(dialog.get_by_label("Alias Name")).to_have_attribute("aria-invalid", "true")
    # The dialog comes back with what was typed, and the field in error has the focus.
    expect(dialog.get_by_label("Description")).to_have_value("kept after the error")
    expect(dialog.get_by_label("Alias Name")).to_be_focused()
    assert key_count(server, user) == 0


def test_an_alias_that_exists_is_refused_and_no_key_is_left_behind(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    page = signed_in
    for attempt in range(2):
        dialog = open_create_dialog(page)
        dialog.get_by_label("Alias Name").fill("taken")
        dialog.get_by_role("button", name="OK").click()
        if attempt == 0:
            page.wait_for_url("**/keys/*?done=created")
    expect(page.locator("#alias-error")).to_have_text("AliasName Already Exists.")
    assert key_count(server, user) == 1  # create-with-alias is one step: all or nothing


OUT_OF_RANGE = "The rotation interval must be from 7 days to 730 days."
NOT_DAYS = "Enter a whole number of days from 7 to 730."


# A sign is refused as the API's RotationInterval refuses -30d (tests/console/test_numbers.py).
@pytest.mark.parametrize(
    ("days", "message"), [("6", OUT_OF_RANGE), ("731", OUT_OF_RANGE), ("0", OUT_OF_RANGE), ("-30", NOT_DAYS)]
)
def test_a_custom_rotation_period_outside_7_to_730_days_is_refused(
    signed_in: Page, server: InProcessServer, user: User, days: str, message: str
) -> None:
    page = signed_in
    dialog = open_create_dialog(page)
    dialog.get_by_label("Rotation Period").select_option("custom")
    dialog.get_by_label("Days (7–730)").fill(days)
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#rotation-error")).to_have_text(message)
    expect(dialog.get_by_label("Rotation Period")).to_have_value("custom")
    assert key_count(server, user) == 0


def test_the_custom_rotation_bounds_are_accepted(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    for days in ("7", "730"):
        dialog = open_create_dialog(page)
        dialog.get_by_label("Rotation Period").select_option("custom")
        dialog.get_by_label("Days (7–730)").fill(days)
        dialog.get_by_role("button", name="OK").click()
        page.wait_for_url("**/keys/*?done=created")
        expect(page.locator("#rotation-interval")).to_have_text(f"{days} days")
    assert key_count(server, user) == 2


def test_sm_specs_only_in_mainland_china(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    # In a mainland region Aliyun_SM4 is offered, and works.
    dialog = open_create_dialog(page)
    expect(page.locator("#spec option[value=Aliyun_SM4]")).to_be_enabled()
    dialog.get_by_label("Key Spec").select_option("Aliyun_SM4")
    dialog.get_by_role("button", name="OK").click()
    page.wait_for_url("**/keys/*?done=created")
    expect(page.locator("#key-spec")).to_have_text("Aliyun_SM4")

    # Outside mainland China both SM specs are disabled, with the seed's note and the reason.
    page.get_by_label("Region").select_option("ap-southeast-1")
    page.wait_for_url("**/ap-southeast-1/keys")
    dialog = open_create_dialog(page)
    for spec in ("Aliyun_SM4", "EC_SM2"):
        expect(page.locator(f"#spec option[value={spec}]")).to_be_disabled()
        expect(page.locator("#spec-reasons")).to_contain_text(
            f"KeySpec {spec} is offered only in mainland China regions; ap-southeast-1 is not one."
        )
    expect(page.locator("#spec-note")).to_have_text(
        "Note: Aliyun_SM4 and EC_SM2 types are used only in mainland China regions where managed hardware"
        " security modules (HSMs) are available."
    )
    # Forced through anyway, the server refuses it next to Key Spec.
    force_enable(page, "#spec option[value=Aliyun_SM4]")
    dialog.get_by_label("Key Spec").select_option("Aliyun_SM4")
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#spec-error")).to_have_text(
        "KeySpec Aliyun_SM4 is offered only in mainland China regions; ap-southeast-1 is not one."
    )
    assert key_count(server, user, "ap-southeast-1") == 0


def test_purpose_and_protection_level_outside_what_the_server_offers(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    page = signed_in
    dialog = open_create_dialog(page)
    dialog.get_by_label("Key Spec").select_option("EC_P256K")
    force_enable(page, "input[name=usage][value='ENCRYPT/DECRYPT']")
    dialog.get_by_label("Encrypt/Decrypt").check()
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#usage-error")).to_have_text("KeySpec EC_P256K allows only SIGN/VERIFY.")

    # The HSM (SoftHSM2) has no SM4 mechanism: Hsm is not offered for Aliyun_SM4, with the reason.
    hsm_reason = server.services.keys.capabilities("cn-hangzhou").get("Aliyun_SM4").levels[ProtectionLevel.HSM]
    assert hsm_reason is not None
    dialog.get_by_label("Key Spec").select_option("Aliyun_SM4")
    expect(dialog.get_by_label("Hsm")).to_be_disabled()
    expect(page.locator("p.why", has_text="Hsm:")).to_have_text(f"Hsm: {hsm_reason}")
    force_enable(page, "input[name=protection_level][value=HSM]")
    dialog.get_by_label("Hsm").check()
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#spec-error")).to_have_text(hsm_reason)  # the spec is what the HSM lacks
    assert key_count(server, user) == 0


def test_rotation_for_an_asymmetric_spec_is_refused_when_sent_anyway(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    page = signed_in
    open_create_dialog(page)
    response = page.request.post(
        console_url(server, "/cn-hangzhou/keys/create"),
        form={"csrf_token": csrf_token(page), "spec": "RSA_2048", "usage": "SIGN/VERIFY", "rotation_period": "90"},
    )
    assert response.status == 400
    assert "Automatic rotation is only for symmetric keys." in response.text()
    assert key_count(server, user) == 0


def test_ec_sm2_in_mainland_china_is_offered_only_with_the_sm2_module(signed_in: Page, server: InProcessServer) -> None:
    page = signed_in
    open_create_dialog(page)
    problem = server.services.keys.capabilities("cn-hangzhou").get("EC_SM2").problem
    option = page.locator("#spec option[value=EC_SM2]")
    if problem is None:
        expect(option).to_be_enabled()
    else:
        expect(option).to_be_disabled()
        expect(page.locator("#spec-reasons")).to_contain_text(problem)
        assert field_error(page, "spec") == ""
