"""asgi.metrics_refusal: who may read /metrics under each [metrics] access."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from openkms.asgi import metrics_refusal
from openkms.settings import Settings

TOKEN = "metrics-token-0123456789"


def request(client: str, authorization: str | None = None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization is not None else []
    return Request({"type": "http", "method": "GET", "path": "/metrics", "headers": headers, "client": (client, 5000)})


@pytest.mark.parametrize("client", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_clients_may_read_by_default(client: str) -> None:
    assert Settings.load(env={}).metrics_access == "loopback"
    assert metrics_refusal(Settings.load(env={}), request(client)) is None


@pytest.mark.parametrize("client", ["10.0.0.5", "192.168.1.20", "2001:db8::1", "testclient", ""])
def test_other_clients_are_refused_by_default(client: str) -> None:
    refused = metrics_refusal(Settings.load(env={}), request(client))
    assert refused is not None
    assert (refused.status_code, bytes(refused.body)) == (
        403, b'{"status":"forbidden","reason":"metrics are served to loopback clients only"}',
    )  # fmt: skip


def test_open_serves_anyone() -> None:
    assert metrics_refusal(Settings.load(env={}, metrics_access="open"), request("203.0.113.9")) is None


@pytest.mark.parametrize(
    "authorization", [None, "", f"Basic {TOKEN}", "Bearer wrong", f"Bearer {TOKEN}x", "Bearer", f"Bearer{TOKEN}"]
)
def test_token_needs_the_bearer_token(authorization: str | None) -> None:
    settings = Settings.load(env={"OPENKMS_METRICS_TOKEN": TOKEN}, metrics_access="token")
    refused = metrics_refusal(settings, request("127.0.0.1", authorization))  # loopback is not enough
    assert refused is not None
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="openkms metrics"'
    assert TOKEN.encode() not in bytes(refused.body)


def test_token_serves_the_bearer_of_it_from_anywhere() -> None:
    settings = Settings.load(env={"OPENKMS_METRICS_TOKEN": TOKEN}, metrics_access="token")
    assert metrics_refusal(settings, request("203.0.113.9", f"Bearer {TOKEN}")) is None
    assert metrics_refusal(settings, request("203.0.113.9", f"bearer {TOKEN}")) is None


def test_token_access_without_a_token_is_a_configuration_error() -> None:
    from openkms.settings import SettingsError

    with pytest.raises(SettingsError, match="OPENKMS_METRICS_TOKEN"):
        Settings.load(env={}, metrics_access="token")
    assert TOKEN not in repr(Settings.load(env={"OPENKMS_METRICS_TOKEN": TOKEN}, metrics_access="token"))
