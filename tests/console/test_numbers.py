"""The console reads a number as the API reads the same field (both through domain/numbers.py):
what one accepts the other accepts, and what one refuses the other refuses, the console with a
400 and the refusal next to the field, never a 500.

Forms are posted as a crafted request would post them (httpx, not the browser, whose number
inputs would not let such text through), after a real log-on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.signed import Signer
from tests.servers import InProcessServer

# Superscript two, Arabic-Indic thirty, exponent notation, spaces, signs; then plain numbers.
ODD_INPUTS = ["²", "٣٠", "1e3", " 7 ", "+7", "-1", "7", "30"]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
REGION = "/console/cn-hangzhou"


@pytest.fixture
def account(server: InProcessServer) -> tuple[Signer, httpx.Client]:
    """One fresh account, used through the API (a signer) and the console (a logged-on client)."""
    ak, secret, _ = server.new_account()
    client = httpx.Client(base_url=server.base_url, timeout=30)
    login = client.get("/console/login")
    token = TOKEN.search(login.text)
    assert token is not None
    logged = client.post(
        "/console/login", data={"csrf_token": token.group(1), "access_key_id": ak, "access_key_secret": secret}
    )
    assert logged.status_code == 303, logged.text[:300]
    return Signer(server.base_url, ak, secret), client


@pytest.fixture(autouse=True)
def _close(account: tuple[Signer, httpx.Client]) -> Iterator[None]:
    yield
    account[1].close()


def post_form(client: httpx.Client, path: str, form: dict[str, str]) -> httpx.Response:
    page = client.get(f"{REGION}/keys")
    token = TOKEN.search(page.text)
    assert token is not None
    return client.post(f"{REGION}{path}", data={"csrf_token": token.group(1), **form})


def api_accepts(signer: Signer, action: str, params: dict[str, str]) -> bool:
    response = signer.v1(action, params).send()
    assert response.status_code in (200, 400), response.text
    return response.status_code == 200


def console_accepts(response: httpx.Response) -> bool:
    assert response.status_code in (303, 400), (response.status_code, response.text[:300])
    return response.status_code == 303


def new_key(signer: Signer) -> str:
    response = signer.v1("CreateKey", {}).send()
    assert response.status_code == 200, response.text
    key_id: str = response.json()["KeyMetadata"]["KeyId"]
    return key_id


def with_unit(days: str) -> str:
    """The same text as the API's RotationInterval, which carries its unit after the number."""
    number = days.rstrip()
    return f"{number}d{days[len(number) :]}"


@pytest.mark.parametrize("days", ODD_INPUTS)
def test_the_deletion_window_is_read_as_pending_window_in_days(account: tuple[Signer, httpx.Client], days: str) -> None:
    signer, client = account
    api = api_accepts(signer, "ScheduleKeyDeletion", {"KeyId": new_key(signer), "PendingWindowInDays": days})
    response = post_form(client, f"/keys/{new_key(signer)}/schedule-deletion", {"window_days": days})
    assert console_accepts(response) is api
    if not api:
        assert 'id="schedule-deletion-error"' in response.text


@pytest.mark.parametrize("days", ODD_INPUTS)
def test_custom_rotation_days_are_read_as_the_rotation_interval(
    account: tuple[Signer, httpx.Client], days: str
) -> None:
    signer, client = account
    api = api_accepts(signer, "CreateKey", {"EnableAutomaticRotation": "true", "RotationInterval": with_unit(days)})
    response = post_form(client, "/keys/create", {"rotation_period": "custom", "custom_days": days})
    assert console_accepts(response) is api
    if not api:
        assert 'id="rotation-error"' in response.text
    api = api_accepts(
        signer,
        "UpdateRotationPolicy",
        {"KeyId": new_key(signer), "EnableAutomaticRotation": "true", "RotationInterval": with_unit(days)},
    )
    form = {"rotation_period": "custom", "custom_days": days}
    response = post_form(client, f"/keys/{new_key(signer)}/rotation", form)
    assert console_accepts(response) is api


@pytest.mark.parametrize("period", ["²", "٣٠", "+30", " 30", "30.0", "3"])
def test_a_rotation_period_that_is_not_one_of_the_choices_is_refused(
    account: tuple[Signer, httpx.Client], period: str
) -> None:
    _, client = account
    response = post_form(client, "/keys/create", {"rotation_period": period})
    assert response.status_code == 400
    assert "Choose a Rotation Period from the list." in response.text


@pytest.mark.parametrize("number", [*ODD_INPUTS, "0", "1000000000", "1000000001"])
def test_a_page_number_the_api_refuses_shows_the_first_page(account: tuple[Signer, httpx.Client], number: str) -> None:
    """A page number comes from a link, not a form: what the API would refuse falls back to page 1."""
    signer, client = account
    api = signer.v1("ListAliases", {"PageNumber": number}).send()
    assert api.status_code in (200, 400), api.text
    expected = api.json()["PageNumber"] if api.status_code == 200 else 1
    page = client.get(f"{REGION}/aliases", params={"page": number})
    assert page.status_code == 200
    assert f"Page {expected} of 1" in page.text
    assert client.get(f"{REGION}/keys", params={"page": number}).status_code == 200
