"""Protection Level Hsm and key stores in the console: keys made in the test process's SoftHSM2
token from the Create Key dialog and used through the official SDK, and the other way round."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from playwright.sync_api import Page, expect

from openkms.domain import listing
from openkms.domain.identity import Caller
from tests.console.conftest import User, force_enable, open_create_dialog
from tests.console.test_create_key import created_key_id, details
from tests.e2e.clients import Kms
from tests.hsm_support import requires_softhsm
from tests.servers import TEST_HSM_STORE, InProcessServer

pytestmark = requires_softhsm

TEST_STORE_LABEL = f"{TEST_HSM_STORE} — the test process's SoftHSM2 token"
HSM_ONLY = f"Key store {TEST_HSM_STORE} keeps keys with ProtectionLevel HSM."


def download_public_key(page: Page) -> bytes:
    with page.expect_download() as info:
        page.locator("#versions-table").get_by_role("link", name="Download public key (PEM)").click()
    return info.value.path().read_bytes()


def test_an_hsm_key_in_the_default_store_is_used_through_the_sdk(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    page = signed_in
    dialog = open_create_dialog(page)
    expect(dialog.get_by_label("KeyStore").locator("option")).to_have_text(
        ["Default key store (shared KMS)", f"{TEST_STORE_LABEL} (Hsm)"]
    )
    dialog.get_by_label("KeyStore").select_option("")
    dialog.get_by_label("Key Spec").select_option("Aliyun_AES_256")
    dialog.get_by_label("Alias Name").fill("in-the-hsm")
    dialog.get_by_label("Hsm").check()
    dialog.get_by_role("button", name="OK").click()
    key_id = created_key_id(page)
    info = details(page)
    # The default store's Hsm keys go to the server's default HSM: here the test token.
    assert (info["Protection Level"], info["KeyStore"], info["Status"]) == ("Hsm", TEST_STORE_LABEL, "Enabled")

    sdk = Kms("new-v3", server.endpoint, user.access_key_id, user.secret)
    blob = sdk.call("Encrypt", KeyId="alias/in-the-hsm", Plaintext="sealed in the token")
    assert blob["KeyId"] == key_id
    assert sdk.call("Decrypt", CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == "sealed in the token"
    meta = sdk.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (meta["ProtectionLevel"], meta["DKMSInstanceId"]) == ("HSM", TEST_HSM_STORE)

    page.get_by_role("link", name="Keys", exact=True).first.click()
    expect(page.locator("#keys-table tbody tr", has_text=key_id)).to_contain_text("Hsm")


def test_a_dedicated_key_store_takes_hsm_keys_only(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    dialog = open_create_dialog(page)
    dialog.get_by_label("KeyStore").select_option(TEST_HSM_STORE)
    # Software is not offered in an HSM key store: the service's reason is shown, Hsm is chosen.
    expect(dialog.get_by_label("Software")).to_be_disabled()
    expect(dialog.get_by_label("Hsm")).to_be_checked()
    expect(dialog.locator("p.why", has_text="Software:")).to_have_text(f"Software: {HSM_ONLY}")
    # Chosen anyway, the service refuses it next to Protection Level, with its own message.
    force_enable(page, "input[name=protection_level][value=SOFTWARE]")
    dialog.get_by_label("Software").check()
    dialog.get_by_role("button", name="OK").click()
    expect(page.locator("#protection_level-error")).to_have_text(HSM_ONLY)
    expect(dialog.get_by_label("KeyStore")).to_have_value(TEST_HSM_STORE)
    assert server.services.keys.list_keys(Caller(user.account_uid, "cn-hangzhou"), listing.Page())[1] == 0

    # Back to the default store, Software is offered again; then an EC key in the dedicated store.
    dialog.get_by_label("KeyStore").select_option("")
    expect(dialog.get_by_label("Software")).to_be_enabled()
    dialog.get_by_label("KeyStore").select_option(TEST_HSM_STORE)
    dialog.get_by_label("Key Spec").select_option("EC_P256")
    dialog.get_by_label("Hsm").check()
    dialog.get_by_role("button", name="OK").click()
    key_id = created_key_id(page)
    info = details(page)
    assert (info["Protection Level"], info["KeyStore"], info["Key Spec"]) == ("Hsm", TEST_STORE_LABEL, "EC_P256")

    # Its public key, downloaded in the console, verifies what the token signs for the SDK.
    public_key = serialization.load_pem_public_key(download_public_key(page))
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    digest = hashlib.sha256(b"signed in the token").digest()
    sdk = Kms("old", server.endpoint, user.access_key_id, user.secret)
    version = sdk.call("DescribeKey", KeyId=key_id)["KeyMetadata"]["PrimaryKeyVersion"]
    signed = sdk.call(
        "AsymmetricSign",
        KeyId=key_id,
        KeyVersionId=version,
        Algorithm="ECDSA_SHA_256",
        Digest=base64.b64encode(digest).decode(),
    )
    public_key.verify(base64.b64decode(signed["Value"]), digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


def test_a_key_made_through_the_sdk_with_protection_level_hsm_shows_as_hsm(
    signed_in: Page, server: InProcessServer, user: User
) -> None:
    page = signed_in
    sdk = Kms("new-v2", server.endpoint, user.access_key_id, user.secret)
    meta = sdk.call("CreateKey", KeySpec="RSA_2048", KeyUsage="SIGN/VERIFY", ProtectionLevel="HSM")["KeyMetadata"]
    key_id, version = meta["KeyId"], meta["PrimaryKeyVersion"]
    page.reload()
    row = page.locator("#keys-table tbody tr", has_text=key_id)
    expect(row).to_contain_text("Hsm")
    row.get_by_role("link", name=key_id).click()
    info = details(page)
    assert (info["Protection Level"], info["KeyStore"], info["Key Spec"]) == ("Hsm", TEST_STORE_LABEL, "RSA_2048")

    pem = download_public_key(page)
    assert pem.decode().strip() == sdk.call("GetPublicKey", KeyId=key_id, KeyVersionId=version)["PublicKey"].strip()
    public_key = serialization.load_pem_public_key(pem)
    assert isinstance(public_key, rsa.RSAPublicKey)
    digest = hashlib.sha256(b"release 2.0").digest()
    signed = sdk.call(
        "AsymmetricSign",
        KeyId=key_id,
        KeyVersionId=version,
        Algorithm="RSA_PKCS1_SHA_256",
        Digest=base64.b64encode(digest).decode(),
    )
    public_key.verify(base64.b64decode(signed["Value"]), digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
