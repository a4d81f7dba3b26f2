"""The Keys page: pagination, filters, search by id or alias, and the region that scopes all of it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from openkms.domain.identity import Caller
from openkms.domain.specs import Origin, ProtectionLevel
from openkms.service.keys import CreateKeyRequest
from tests.console.conftest import User, console_url, screenshot
from tests.hsm_support import SOFTHSM_AVAILABLE
from tests.servers import InProcessServer


def make_keys(server: InProcessServer, user: User) -> list[str]:
    """Twelve keys in cn-hangzhou (two disabled, one RSA_2048, three with aliases, one External
    waiting for its material, one in the HSM when SoftHSM2 is there), one in Singapore."""
    caller = Caller(user.account_uid, "cn-hangzhou", user.access_key_id)
    keys = server.services.keys
    ids = []
    for n in range(12):
        spec = "RSA_2048" if n == 5 else "Aliyun_AES_256"
        alias = f"alias/app/service-{n}" if n in (1, 2, 3) else None
        level = ProtectionLevel.HSM if n == 4 and SOFTHSM_AVAILABLE else ProtectionLevel.SOFTWARE
        origin = Origin.EXTERNAL if n == 10 else Origin.ALIYUN_KMS
        req = CreateKeyRequest(spec=spec, alias=alias, description=f"key {n}", protection_level=level, origin=origin)
        ids.append(keys.create_key(caller, req).id)
        server.clock.advance(1)  # distinct creation times: the page lists the newest first
    for n in (7, 8):
        keys.disable_key(caller, ids[n])
    keys.create_key(Caller(user.account_uid, "ap-southeast-1"), CreateKeyRequest(alias="alias/in-singapore"))
    return ids


def rows(page: Page) -> list[str]:
    return [t.split("\t")[0].strip() for t in page.locator("#keys-table tbody tr").all_inner_texts()]


def test_pages_filters_and_search(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    ids = make_keys(server, user)
    page.reload()
    expect(page.locator(".pager")).to_contain_text("12 keys")
    expect(page.locator(".pager")).to_contain_text("Page 1 of 2")
    assert rows(page) == list(reversed(ids))[:10]
    expect(page.locator("#keys-table tbody tr", has_text=ids[10])).to_contain_text("PendingImport")
    if SOFTHSM_AVAILABLE:
        expect(page.locator("#keys-table tbody tr", has_text=ids[4])).to_contain_text("Hsm")
    screenshot(page, "keys-page")
    page.get_by_role("link", name="Next").click()
    assert rows(page) == list(reversed(ids))[10:]
    expect(page.locator(".pager")).to_contain_text("Page 2 of 2")
    page.get_by_role("link", name="Previous").click()
    expect(page.locator(".pager")).to_contain_text("Page 1 of 2")

    page.get_by_label("State").select_option("Disabled")
    page.get_by_role("button", name="Filter").click()
    assert sorted(rows(page)) == sorted([ids[7], ids[8]])
    expect(page.locator("#keys-table tbody")).not_to_contain_text("Enabled")

    page.get_by_label("State").select_option("")
    page.get_by_label("Key Spec").select_option("RSA_2048")
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == [ids[5]]
    expect(page.locator("#keys-table tbody tr")).to_contain_text("Sign/Verify")

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Search").fill("service-2")
    page.get_by_label("Search").press("Enter")
    assert rows(page) == [ids[2]]
    page.get_by_label("Search").fill("alias/app/")
    page.get_by_label("Search").press("Enter")
    assert sorted(rows(page)) == sorted(ids[1:4])
    page.get_by_label("Search").fill(ids[9][:13])
    page.get_by_label("Search").press("Enter")
    assert rows(page) == [ids[9]]
    page.get_by_label("Search").fill("no-such-key")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("#keys-table tbody")).to_have_text("No key matches these filters.")


def test_switching_region_changes_everything_shown(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    make_keys(server, user)
    page.get_by_role("link", name="Aliases").click()
    expect(page.locator("#aliases-table tbody tr")).to_have_count(3)

    page.get_by_label("Region").select_option("ap-southeast-1")
    page.wait_for_url("**/ap-southeast-1/aliases")  # the section stays, the region changes
    expect(page.locator("#aliases-table tbody tr")).to_have_count(1)
    expect(page.locator("#aliases-table")).to_contain_text("alias/in-singapore")
    expect(page.locator(".tag-mainland")).to_have_count(0)
    page.get_by_role("link", name="Keys", exact=True).click()
    expect(page.locator(".pager")).to_contain_text("1 key")
    expect(page.locator("#keys-table")).to_contain_text("alias/in-singapore")

    page.get_by_label("Region").select_option("cn-hangzhou")
    page.wait_for_url("**/cn-hangzhou/keys")
    expect(page.locator(".tag-mainland")).to_have_text("Mainland China")
    expect(page.locator(".pager")).to_contain_text("12 keys")
    expect(page.locator("#keys-table")).not_to_contain_text("alias/in-singapore")


def test_a_key_of_another_region_or_account_is_not_found(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    ids = make_keys(server, user)
    # The key exists in cn-hangzhou; under another region's URL it does not.
    response = page.goto(console_url(server, f"/ap-southeast-1/keys/{ids[0]}"))
    assert response is not None
    assert response.status == 404
    expect(page.locator("#error-message")).to_have_text("The specified Key is not found.")
    other_ak, _, other_uid = server.new_account()
    other = Caller(other_uid, "cn-hangzhou", other_ak)
    foreign = server.services.keys.create_key(other, CreateKeyRequest()).id
    response = page.goto(console_url(server, f"/cn-hangzhou/keys/{foreign}"))
    assert response is not None
    assert response.status == 404
    response = page.goto(console_url(server, "/mars-1/keys"))
    assert response is not None
    assert response.status == 404
    expect(page.locator("#error-message")).to_contain_text("'mars-1' does not exist")


def test_aliases_page_deletes_an_alias(signed_in: Page, server: InProcessServer, user: User) -> None:
    page = signed_in
    ids = make_keys(server, user)
    page.get_by_role("link", name="Aliases").click()
    page.get_by_role("button", name="Delete alias alias/app/service-2").click()
    expect(page.get_by_role("status")).to_have_text("The alias was deleted.")
    expect(page.locator("#aliases-table tbody tr")).to_have_count(2)
    page.get_by_role("link", name=ids[1]).click()
    expect(page.locator("#key-id")).to_have_text(ids[1])
