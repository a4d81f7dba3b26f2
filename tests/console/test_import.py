"""Bring your own key in the browser: the seed's walk for an External key, then the import flow on
its details page (download the wrapping public key and the token, upload the wrapped material),
checked through the official SDK; and every refusal of the import forms next to its field."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from playwright.sync_api import Download, Locator, Page, expect

from openkms.crypto import sm2
from openkms.domain.identity import Caller
from openkms.domain.importing import TOKEN_LIFETIME_SECONDS
from openkms.domain.keys import Key
from openkms.domain.specs import Origin, ProtectionLevel
from openkms.domain.states import KeyState
from openkms.service.keys import CreateKeyRequest
from tests.console.conftest import User, console_url, open_create_dialog, screenshot
from tests.console.test_create_key import created_key_id, details, step_1_log_on, step_2_select_region
from tests.e2e.clients import ApiError, Kms
from tests.hsm_support import requires_softhsm
from tests.servers import TEST_HSM_STORE, InProcessServer

ACK = "I understand the implications of using the external key materials key"
DAY = 86_400


def utc(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def datetime_field(ts: int) -> str:
    """What a datetime-local field holds for a moment in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


def oaep(algorithm: str) -> padding.OAEP:
    h = hashes.SHA256() if algorithm == "RSAES_OAEP_SHA_256" else hashes.SHA1()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def download(page: Page, link_name: str, folder: Path) -> tuple[str, bytes]:
    """Click a download link: (the file name the server suggests, the file's bytes)."""
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name).click()
    file: Download = info.value
    target = folder / file.suggested_filename
    file.save_as(target)
    return file.suggested_filename, target.read_bytes()


def get_parameters(page: Page, spec: str, algorithm: str) -> None:
    step = page.locator("#import-parameters-form")
    step.get_by_label("Wrapping key spec").select_option(spec)
    step.get_by_label("Wrapping algorithm").select_option(algorithm)
    step.get_by_role("button", name="Get parameters").click()


def offer_everything(page: Page) -> None:
    """What a crafted request can do: choose a wrapping spec or algorithm the page does not offer."""
    page.locator("#import-parameters-form").evaluate(
        "f => f.querySelectorAll('option, optgroup').forEach(el => { el.disabled = false; el.hidden = false; })"
    )


def upload(page: Page, material: Path | None, token: Path | None, expiry: str = "") -> Locator:
    form = page.locator("#import-material-form")
    if material is not None:
        form.get_by_label("Wrapped key material").set_input_files(material)
    if token is not None:
        form.get_by_label("Import token").set_input_files(token)
    form.get_by_label("Key material expires (UTC)").fill(expiry)
    form.get_by_role("button", name="Import key material").click()
    return form


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def external_key(server: InProcessServer, user: User, region: str = "cn-hangzhou", **kw: object) -> Key:
    req = CreateKeyRequest(origin=Origin.EXTERNAL, **kw)  # type: ignore[arg-type]
    return server.services.keys.create_key(Caller(user.account_uid, region), req)


def state_of(server: InProcessServer, user: User, key_id: str, region: str = "cn-hangzhou") -> KeyState:
    return server.services.keys.describe_key(Caller(user.account_uid, region), key_id).state


def open_key(page: Page, server: InProcessServer, key_id: str, region: str = "cn-hangzhou") -> None:
    page.goto(console_url(server, f"/{region}/keys/{key_id}"))
    expect(page.locator("#key-id")).to_have_text(key_id)


def test_seed_walk_for_an_external_key_then_import_use_and_delete_material(
    page: Page, server: InProcessServer, user: User, tmp_path: Path
) -> None:
    # Steps 1-7 of the seed, for an External key.
    step_1_log_on(page, server, user)
    step_2_select_region(page, "cn-shanghai")
    dialog = open_create_dialog(page)  # steps 3 and 4
    dialog.get_by_label("KeyStore").select_option("")
    dialog.get_by_label("Key Spec").select_option("Aliyun_AES_256")
    dialog.get_by_label("Encrypt/Decrypt").check()
    dialog.get_by_label("Alias Name").fill("seed/external")
    dialog.get_by_label("Software").check()
    expect(dialog.get_by_label("Hsm")).to_be_enabled()
    dialog.get_by_label("Description").fill("material from our own HSM")
    dialog.get_by_text("Advanced", exact=True).click()  # step 6
    dialog.get_by_label("External", exact=True).check()
    expect(dialog.get_by_label("Rotation Period")).to_be_hidden()  # imported material is not rotated
    dialog.get_by_label(ACK).check()
    dialog.locator("#advanced").scroll_into_view_if_needed()
    screenshot(page, "create-key-dialog")
    dialog.get_by_role("button", name="OK").click()  # step 7
    key_id = created_key_id(page)
    info = details(page)
    assert (info["Key ID"], info["Status"], info["Key Material Source"]) == (key_id, "PendingImport", "External")
    assert (info["Protection Level"], info["Material Expires"]) == ("Software", "— no key material")
    expect(page.locator("#material-status")).to_contain_text("Not imported")

    # Get the import parameters and download the public key (DER and PEM) and the token.
    get_parameters(page, "RSA_2048", "RSAES_OAEP_SHA_256")
    expect(page.get_by_role("status")).to_contain_text("The import parameters are ready")
    expect(page.locator("#import-parameters")).to_contain_text("RSA_2048 · RSAES_OAEP_SHA_256 · valid until")
    screenshot(page, "key-details-import")
    der_name, der = download(page, "Download public key (DER)", tmp_path)
    pem_name, pem = download(page, "Download public key (PEM)", tmp_path)
    token_name, _ = download(page, "Download import token", tmp_path)
    assert (der_name, pem_name, token_name) == (
        f"publickey-{key_id}.der",
        f"publickey-{key_id}.pem",
        f"importtoken-{key_id}.txt",
    )
    public_key = serialization.load_der_public_key(der)
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 2048
    assert serialization.load_pem_public_key(pem).public_numbers() == public_key.public_numbers()

    # Wrap 32 random bytes locally, upload them in the browser, with a material expiry.
    material = os.urandom(32)
    wrapped = write(tmp_path, "material.bin", public_key.encrypt(material, oaep("RSAES_OAEP_SHA_256")))
    expires = int(server.clock.now()) + 30 * DAY
    upload(page, wrapped, tmp_path / token_name, datetime_field(expires))
    expect(page.get_by_role("status")).to_have_text("The key material was imported.")
    info = details(page)
    assert (info["Status"], info["Material Expires"]) == ("Enabled", utc(expires))
    expect(page.locator("#material-status")).to_contain_text(f"Imported Expires: {utc(expires)}")

    # The key through the official SDK.
    sdk = Kms("new-v3", server.endpoint, user.access_key_id, user.secret, "cn-shanghai")
    blob = sdk.call("Encrypt", KeyId="alias/seed/external", Plaintext="imported in the console")
    assert blob["KeyId"] == key_id
    assert sdk.call("Decrypt", CiphertextBlob=blob["CiphertextBlob"])["Plaintext"] == "imported in the console"
    meta = sdk.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"]) == ("EXTERNAL", "Enabled")
    assert meta["MaterialExpireTime"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))

    # Delete key material: only once confirmed.
    delete = page.locator("#delete-material-form")
    delete.get_by_role("button", name="Delete key material").click()
    expect(page.locator("#delete-material-error")).to_have_text(
        "Select the check box to confirm that the key material is to be deleted."
    )
    assert state_of(server, user, key_id, "cn-shanghai") is KeyState.ENABLED
    delete.get_by_label(
        "I understand that the key cannot be used until the same key material is imported again"
    ).check()
    delete.get_by_role("button", name="Delete key material").click()
    expect(page.get_by_role("status")).to_contain_text("The key material was deleted.")
    assert details(page)["Status"] == "PendingImport"
    with pytest.raises(ApiError) as err:
        sdk.call("Encrypt", KeyId=key_id, Plaintext="x")
    assert (err.value.status, err.value.code) == (409, "Rejected.PendingImport")


def test_import_refusals_each_next_to_its_field(
    signed_in: Page, server: InProcessServer, user: User, tmp_path: Path
) -> None:
    page = signed_in
    caller = Caller(user.account_uid, "cn-hangzhou")
    key, other = external_key(server, user), external_key(server, user)
    params = server.services.importing.get_parameters(caller, key.id, "RSAES_OAEP_SHA_1", "RSA_2048")
    foreign = server.services.importing.get_parameters(caller, other.id, "RSAES_OAEP_SHA_1", "RSA_2048")
    public_key = serialization.load_der_public_key(params.public_key)
    assert isinstance(public_key, rsa.RSAPublicKey)
    material = write(tmp_path, "material.bin", public_key.encrypt(os.urandom(32), oaep("RSAES_OAEP_SHA_1")))
    token = write(tmp_path, "token.txt", params.token.encode() + b"\n")
    open_key(page, server, key.id)

    upload(page, None, None)
    expect(page.locator("#material-error")).to_have_text("Choose the wrapped key material file.")
    expect(page.locator("#import_token-error")).to_have_text("Choose the import token file.")

    # A token file of another key, and one that holds no token at all.
    for wrong in (foreign.token.encode(), b"not a token"):
        upload(page, material, write(tmp_path, "wrong-token.txt", wrong))
        expect(page.locator("#import_token-error")).to_have_text("import token is invalid.")
        expect(page.locator("#material-error")).to_be_hidden()

    # A file far too large to be wrapped material (still within the console's request size).
    upload(page, write(tmp_path, "large.bin", os.urandom(20_000)), token)
    expect(page.locator("#material-error")).to_have_text(
        "The file is larger than 16 KiB, too large for wrapped key material."
    )

    # Garbage instead of wrapped material.
    upload(page, write(tmp_path, "garbage.bin", os.urandom(256)), token)
    expect(page.locator("#material-error")).to_have_text(
        "key material is invalid. The material does not unwrap to a key of this key spec with the import token's key."
    )

    # A material expiry in the past; the typed value is kept.
    past = datetime_field(int(server.clock.now()) - DAY)
    upload(page, material, token, past)
    expect(page.locator("#material_expiry-error")).to_have_text("The expiry time must lie in the future.")
    # A datetime-local field drops zero seconds from its value ("...T21:55:00" reads "...T21:55").
    expect(page.get_by_label("Key material expires (UTC)")).to_have_value(past.removesuffix(":00"))
    assert state_of(server, user, key.id) is KeyState.PENDING_IMPORT

    # The upload form without its CSRF token is refused before anything is read.
    form = page.locator("#import-material-form")
    form.locator("input[name=csrf_token]").evaluate("el => el.remove()")
    form.get_by_label("Wrapped key material").set_input_files(material)
    form.get_by_label("Import token").set_input_files(token)
    with page.expect_response(lambda r: r.url.endswith("/import-material")) as refused:
        form.get_by_role("button", name="Import key material").click()
    assert refused.value.status == 403
    expect(page.get_by_role("heading", name="Request refused")).to_be_visible()
    assert state_of(server, user, key.id) is KeyState.PENDING_IMPORT

    # A token past its 24 hours (issued a day and an hour ago).
    server.clock.advance(-(TOKEN_LIFETIME_SECONDS + 3600))
    stale = server.services.importing.get_parameters(caller, key.id, "RSAES_OAEP_SHA_1", "RSA_2048")
    server.clock.advance(TOKEN_LIFETIME_SECONDS + 3600)
    stale_key = serialization.load_der_public_key(stale.public_key)
    assert isinstance(stale_key, rsa.RSAPublicKey)
    open_key(page, server, key.id)
    upload(
        page,
        write(tmp_path, "stale.bin", stale_key.encrypt(os.urandom(32), oaep("RSAES_OAEP_SHA_1"))),
        write(tmp_path, "stale.txt", stale.token.encode()),
    )
    expect(page.locator("#import_token-error")).to_have_text("import token is expired.")
    page.goto(console_url(server, f"/cn-hangzhou/keys/{key.id}?params={stale.token_id}"))
    expect(page.locator("#import-parameters-problem")).to_have_text(
        "import token is expired. Get new import parameters."
    )
    stale_url = console_url(server, f"/cn-hangzhou/keys/{key.id}/import/{stale.token_id}/publickey.der")
    assert page.request.get(stale_url).status == 400

    # The right files, at last; a token issued for another key is not downloadable under this one.
    upload(page, material, token)
    expect(page.get_by_role("status")).to_have_text("The key material was imported.")
    assert state_of(server, user, key.id) is KeyState.ENABLED
    response = page.request.get(
        console_url(server, f"/cn-hangzhou/keys/{key.id}/import/{foreign.token_id}/importtoken.txt")
    )
    assert response.status == 400
    assert "import token is invalid." in response.text()


def test_wrapping_key_specs_by_region(signed_in: Page, server: InProcessServer, user: User, tmp_path: Path) -> None:
    page = signed_in
    # Outside mainland China, EC_SM2 wrapping keys are not offered: the service's reason is shown,
    # and a crafted choice is refused next to the field.
    abroad = external_key(server, user, "ap-southeast-1")
    open_key(page, server, abroad.id, "ap-southeast-1")
    expect(page.locator("#wrapping_spec option[value=EC_SM2]")).to_be_disabled()
    expect(page.locator("#wrapping_spec-why")).to_have_text(
        "EC_SM2: EC_SM2 wrapping keys are offered only in mainland China regions."
    )
    offer_everything(page)
    get_parameters(page, "EC_SM2", "SM2PKE")
    expect(page.locator("#wrapping_spec-error")).to_have_text(
        "EC_SM2 wrapping keys are offered only in mainland China regions."
    )
    # An algorithm of another spec, sent anyway.
    step = page.locator("#import-parameters-form")
    step.get_by_label("Wrapping key spec").select_option("RSA_2048")
    offer_everything(page)
    step.get_by_label("Wrapping algorithm").select_option("SM2PKE")
    step.get_by_role("button", name="Get parameters").click()
    expect(page.locator("#wrapping_algorithm-error")).to_have_text(
        "WrappingKeySpec RSA_2048 wraps with RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSAES_PKCS1_V1_5."
    )


@pytest.mark.skipif(not sm2.available(), reason="the system libcrypto has no SM2")
def test_sm4_material_wrapped_with_sm2pke_in_mainland_china(
    signed_in: Page, server: InProcessServer, user: User, tmp_path: Path
) -> None:
    """In mainland China: an SM4 key's material wrapped with SM2PKE, uploaded as base64 text."""
    page = signed_in
    key = external_key(server, user, spec="Aliyun_SM4")
    open_key(page, server, key.id)
    step = page.locator("#import-parameters-form")
    step.get_by_label("Wrapping key spec").select_option("EC_SM2")
    expect(step.get_by_label("Wrapping algorithm")).to_have_value("SM2PKE")  # the only algorithm of EC_SM2
    step.get_by_role("button", name="Get parameters").click()
    expect(page.locator("#import-parameters")).to_contain_text("EC_SM2 · SM2PKE")
    _, pem = download(page, "Download public key (PEM)", tmp_path)
    token_name, _ = download(page, "Download import token", tmp_path)
    wrapped = sm2.Sm2PublicKey.from_pem(pem).encrypt(os.urandom(16))
    upload(page, write(tmp_path, "material.b64", base64.b64encode(wrapped) + b"\n"), tmp_path / token_name)
    expect(page.get_by_role("status")).to_have_text("The key material was imported.")
    sdk = Kms("old", server.endpoint, user.access_key_id, user.secret)
    blob = sdk.call("Encrypt", KeyId=key.id, Plaintext="sm4 from the console")["CiphertextBlob"]
    assert sdk.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "sm4 from the console"


@requires_softhsm
def test_import_into_an_hsm_key(signed_in: Page, server: InProcessServer, user: User, tmp_path: Path) -> None:
    page = signed_in
    key = external_key(server, user, protection_level=ProtectionLevel.HSM)
    open_key(page, server, key.id)
    info = details(page)
    assert (info["Protection Level"], info["KeyStore"]) == (
        "Hsm",
        f"{TEST_HSM_STORE} — the test process's SoftHSM2 token",
    )

    # The token cannot unwrap OAEP with SHA-256: the service's reason, next to the algorithm.
    get_parameters(page, "RSA_2048", "RSAES_OAEP_SHA_256")
    expect(page.locator("#wrapping_algorithm-error")).to_contain_text(
        "The PKCS#11 token cannot unwrap RSAES_OAEP_SHA_256"
    )
    expect(page.locator("#import-parameters")).to_have_count(0)

    get_parameters(page, "RSA_2048", "RSAES_OAEP_SHA_1")
    _, der = download(page, "Download public key (DER)", tmp_path)
    token_name, _ = download(page, "Download import token", tmp_path)
    public_key = serialization.load_der_public_key(der)
    assert isinstance(public_key, rsa.RSAPublicKey)
    wrapped = write(tmp_path, "material.bin", public_key.encrypt(os.urandom(32), oaep("RSAES_OAEP_SHA_1")))
    upload(page, wrapped, tmp_path / token_name)
    expect(page.get_by_role("status")).to_have_text("The key material was imported.")
    assert details(page)["Material Expires"] == "Never"

    sdk = Kms("new-v2", server.endpoint, user.access_key_id, user.secret)
    blob = sdk.call("Encrypt", KeyId=key.id, Plaintext="unwrapped in the token")["CiphertextBlob"]
    assert sdk.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "unwrapped in the token"
    assert sdk.call("DescribeKey", KeyId=key.id)["KeyMetadata"]["ProtectionLevel"] == "HSM"
