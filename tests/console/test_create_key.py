"""The seed's "Create a CMK" walk, steps 1-7, in a real browser; the keys it makes are then used
through the official SDK, and keys made through the SDK are managed in the console."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from playwright.sync_api import Page, expect

from openkms.domain import listing
from openkms.domain.identity import Caller
from openkms.domain.rotation import DAY
from tests.console.conftest import (
    User,
    console_url,
    force_enable,
    open_create_dialog,
    screenshot,
)
from tests.e2e.clients import ApiError, Kms
from tests.servers import InProcessServer

KEY_ID = re.compile(r"/keys/([0-9a-f-]{36})(?:\?|$)")


def step_1_log_on(page: Page, server: InProcessServer, user: User) -> None:
    page.goto(console_url(server))
    expect(page.get_by_role("heading", name="Log on to the KMS console")).to_be_visible()
    page.get_by_label("AccessKey ID").fill(user.access_key_id)
    page.get_by_label("AccessKey Secret").fill(user.secret)
    page.get_by_role("button", name="Log on").click()
    page.wait_for_url("**/cn-hangzhou/keys")


def step_2_select_region(page: Page, region: str) -> None:
    picker = page.get_by_label("Region")
    box = picker.bounding_box()
    assert box is not None
    assert box["x"] < 400, "the region selector is in the upper-left corner"
    assert box["y"] < 48, "the region selector is in the top bar"
    picker.select_option(region)
    page.wait_for_url(f"**/{region}/keys")
    expect(page.get_by_label("Region")).to_have_value(region)


def created_key_id(page: Page) -> str:
    page.wait_for_url(KEY_ID)
    match = KEY_ID.search(page.url)
    assert match is not None
    return match.group(1)


def details(page: Page) -> dict[str, str]:
    """The Basic information card, label -> value."""
    props = page.locator("#key-props")
    names = props.locator("dt").all_inner_texts()
    values = props.locator("dd").all_inner_texts()
    return dict(zip(names, values, strict=True))


def test_seed_steps_1_to_7_symmetric_key_then_used_through_the_sdk(
    page: Page, server: InProcessServer, user: User
) -> None:
    step_1_log_on(page, server, user)
    step_2_select_region(page, "cn-shanghai")
    open_create_dialog(page)  # steps 3 and 4
    dialog = page.get_by_role("dialog", name="Create Key")

    # Step 5: the parameters, under the seed's labels.
    dialog.get_by_label("KeyStore").select_option("")
    dialog.get_by_label("Key Spec").select_option("Aliyun_AES_256")
    expect(dialog.get_by_label("Sign/Verify")).to_be_disabled()  # a symmetric spec cannot sign
    expect(dialog.get_by_text("Aliyun_AES_256 keys allow only Encrypt/Decrypt.")).to_be_visible()
    dialog.get_by_label("Encrypt/Decrypt").check()
    dialog.get_by_label("Alias Name").fill("seed/symmetric")
    dialog.get_by_label("Software").check()
    dialog.get_by_label("Description").fill("made by the seed walk")
    expect(dialog.get_by_label("Rotation Period")).to_be_visible()
    expect(dialog.get_by_label("Rotation Period").locator("option")).to_have_text(
        ["30 Days", "90 Days", "180 Days", "365 Days", "Disable", "Customize"]
    )
    dialog.get_by_label("Rotation Period").select_option("custom")
    dialog.get_by_label("Days (7–730)").fill("45")

    # Step 6: Advanced -> Key Material Source.
    dialog.get_by_text("Advanced", exact=True).click()
    expect(dialog.get_by_label("Alibaba Cloud KMS")).to_be_checked()
    expect(dialog.get_by_label("I understand the implications of using the external key materials key")).to_be_visible()
    dialog.locator("#advanced").scroll_into_view_if_needed()
    screenshot(page, "create-key-dialog")

    # Step 7: OK, then the key's details.
    dialog.get_by_role("button", name="OK").click()
    key_id = created_key_id(page)
    expect(page.get_by_role("status")).to_have_text("The key was created.")
    info = details(page)
    assert info["Key ID"] == key_id
    assert info["ARN"] == f"acs:kms:cn-shanghai:{user.account_uid}:key/{key_id}"
    assert info["Status"] == "Enabled"
    assert info["Protection Level"] == "Software"
    assert info["Key Spec"] == "Aliyun_AES_256"
    assert info["Purpose"] == "Encrypt/Decrypt"
    assert info["Key Material Source"] == "Alibaba Cloud KMS"
    assert info["Description"] == "made by the seed walk"
    expect(page.locator("#rotation-interval")).to_have_text("45 days")
    expect(page.locator("#rotation-status")).to_have_text("Enabled")
    expect(page.locator("#key-aliases")).to_contain_text("alias/seed/symmetric")
    expect(page.locator("#versions-table tbody tr")).to_have_count(1)
    screenshot(page, "key-details")

    # The same key through the service layer and through the official SDK.
    key = server.services.keys.describe_key(Caller(user.account_uid, "cn-shanghai"), "alias/seed/symmetric")
    assert key.id == key_id
    assert key.rotation_interval == 45 * DAY
    assert key.next_rotation_at == key.created_at + 45 * DAY
    sdk = Kms("new-v3", server.endpoint, user.access_key_id, user.secret, "cn-shanghai")
    blob = sdk.call("Encrypt", KeyId="alias/seed/symmetric", Plaintext="console to SDK")
    assert blob["KeyId"] == key_id
    assert sdk.call("Decrypt", CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == "console to SDK"
    meta = sdk.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["AutomaticRotation"], meta["RotationInterval"]) == (
        "Enabled",
        "Enabled",
        f"{45 * DAY}s",
    )

    # The Keys page of the region lists it.
    page.get_by_role("navigation", name="Key Management Service").get_by_role("link", name="Keys").click()
    row = page.locator("#keys-table tbody tr", has_text=key_id)
    expect(row).to_contain_text("alias/seed/symmetric")
    expect(row).to_contain_text("Aliyun_AES_256")
    expect(row).to_contain_text("Encrypt/Decrypt")
    expect(row).to_contain_text("Enabled")
    expect(row).to_contain_text("Software")


def test_seed_steps_1_to_7_asymmetric_key_and_its_public_key(page: Page, server: InProcessServer, user: User) -> None:
    step_1_log_on(page, server, user)
    step_2_select_region(page, "cn-hangzhou")
    open_create_dialog(page)
    dialog = page.get_by_role("dialog", name="Create Key")

    dialog.get_by_label("Key Spec").select_option("EC_P256")
    # Purpose is limited by the spec, and Rotation Period is for symmetric specs only.
    expect(dialog.get_by_label("Encrypt/Decrypt")).to_be_disabled()
    expect(dialog.get_by_label("Sign/Verify")).to_be_checked()
    expect(dialog.get_by_text("EC_P256 keys allow only Sign/Verify.")).to_be_visible()
    expect(dialog.get_by_label("Rotation Period")).to_be_hidden()
    dialog.get_by_label("Key Spec").select_option("RSA_2048")
    expect(dialog.get_by_label("Encrypt/Decrypt")).to_be_enabled()
    expect(dialog.get_by_label("Sign/Verify")).to_be_enabled()
    dialog.get_by_label("Key Spec").select_option("EC_P256")
    dialog.get_by_label("Alias Name").fill("alias/seed/signing")  # the prefix may be typed too
    dialog.get_by_label("Description").fill("signs release manifests")
    dialog.get_by_text("Advanced", exact=True).click()
    expect(dialog.get_by_label("Alibaba Cloud KMS")).to_be_checked()
    dialog.get_by_role("button", name="OK").click()

    key_id = created_key_id(page)
    info = details(page)
    assert (info["Key Spec"], info["Purpose"], info["Status"], info["Protection Level"]) == (
        "EC_P256",
        "Sign/Verify",
        "Enabled",
        "Software",
    )
    expect(page.get_by_role("heading", name="Automatic rotation")).to_have_count(0)

    # Download the version's public key (GetPublicKey) and check a signature the SDK makes.
    versions = page.locator("#versions-table tbody tr")
    expect(versions).to_have_count(1)
    version_id = versions.locator("td").first.inner_text().strip()
    with page.expect_download() as download_info:
        versions.get_by_role("link", name="Download public key (PEM)").click()
    download = download_info.value
    assert download.suggested_filename == f"publickey-{key_id}-{version_id}.pem"
    pem = download.path().read_bytes()
    public_key = serialization.load_pem_public_key(pem)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"

    sdk = Kms("old", server.endpoint, user.access_key_id, user.secret)
    digest = hashlib.sha256(b"release 1.0").digest()
    signed = sdk.call(
        "AsymmetricSign",
        KeyId="alias/seed/signing",
        KeyVersionId=version_id,
        Algorithm="ECDSA_SHA_256",
        Digest=base64.b64encode(digest).decode(),
    )
    public_key.verify(
        base64.b64decode(signed["Value"]), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))
    )  # raises if the console's key did not make the signature
    sdk_pem = sdk.call("GetPublicKey", KeyId=key_id, KeyVersionId=version_id)["PublicKey"]
    assert sdk_pem.strip() == pem.decode().strip()


def test_external_needs_the_check_box_and_a_symmetric_spec(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    """The seed's walk for an External key is in test_import; here what the dialog refuses."""
    page = signed_in
    dialog = open_create_dialog(page)
    dialog.get_by_text("Advanced", exact=True).click()
    external = dialog.get_by_label("External", exact=True)
    ack = dialog.get_by_label("I understand the implications of using the external key materials key")
    expect(external).to_be_enabled()
    dialog.get_by_label("Alias Name").fill("kept")
    external.check()
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#external_ack-error")).to_have_text(
        "Select the check box “I understand the implications of using the external key materials key”"
        " to use External key material."
    )
    expect(dialog.get_by_label("Alias Name")).to_have_value("kept")
    expect(external).to_be_checked()
    expect(ack).to_be_focused()  # the field in error has the focus

    # External is only for symmetric specs: the dialog says so, and a crafted choice is refused
    # by the service next to Key Material Source.
    dialog.get_by_label("Key Spec").select_option("EC_P256")
    expect(external).to_be_disabled()
    expect(dialog.locator("p.why", has_text="External:")).to_have_text(
        "External: Origin=EXTERNAL is only for symmetric key specs."
    )
    force_enable(page, "input[name=origin][value=EXTERNAL]")
    force_enable(page, "#external_ack")
    external.check()
    ack.check()
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#origin-error")).to_have_text("Origin=EXTERNAL is only for symmetric key specs.")
    assert server.services.keys.list_keys(Caller(user.account_uid, "cn-hangzhou"), listing.Page())[1] == 0


def test_a_key_made_through_the_sdk_is_managed_in_the_console(page: Page, server: InProcessServer, user: User) -> None:
    sdk = Kms("new-v2", server.endpoint, user.access_key_id, user.secret)
    key_id = sdk.call("CreateKey", Description="from the SDK")["KeyMetadata"]["KeyId"]
    sdk.call("CreateAlias", AliasName="alias/from-sdk", KeyId=key_id)
    sdk.call("TagResource", KeyId=key_id, Tags='[{"TagKey":"team","TagValue":"payments"}]')
    step_1_log_on(page, server, user)
    row = page.locator("#keys-table tbody tr", has_text=key_id)
    expect(row).to_contain_text("alias/from-sdk")
    row.get_by_role("link", name=key_id).click()
    assert details(page)["Description"] == "from the SDK"
    expect(page.locator("#key-tags")).to_contain_text("team: payments")

    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_have_text("The key is disabled.")
    with pytest.raises(ApiError) as err:
        sdk.call("Encrypt", KeyId=key_id, Plaintext="x")
    assert (err.value.status, err.value.code) == (409, "Rejected.Disabled")
    page.get_by_role("button", name="Enable").click()
    expect(page.locator("#key-state")).to_have_text("Enabled")
    assert sdk.call("Encrypt", KeyId="alias/from-sdk", Plaintext="x")["KeyId"] == key_id
