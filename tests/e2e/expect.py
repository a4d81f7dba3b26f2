"""Assertions on Alibaba error answers, through an SDK (``expect_error``) or raw HTTP (``expect_wire``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.clients import ApiError, Kms

ERROR_FIELDS = ("RequestId", "HostId", "Code", "Message", "Recommend")


def expect_error(status: int, code: str, kms: Kms, action: str, **params: Any) -> ApiError:
    """The call fails with this HTTP status and Code, and the SDK saw a RequestId."""
    with pytest.raises(ApiError) as err:
        kms.call(action, **params)
    assert (err.value.status, err.value.code) == (status, code), err.value.message
    assert err.value.request_id, "every error carries a RequestId"
    return err.value


def expect_wire(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A JSON Alibaba error body with every field, matching the x-acs-request-id header."""
    assert resp.headers["content-type"] == "application/json;charset=utf-8"
    body: dict[str, Any] = resp.json()
    assert (resp.status_code, body.get("Code")) == (status, code), body
    for name in ERROR_FIELDS:
        assert body.get(name), f"{name} missing from {body}"
    assert body["HttpStatus"] == status
    assert body["RequestId"] == resp.headers["x-acs-request-id"]
    assert f"Keyword={code}" in body["Recommend"]
    return body


def ok(resp: httpx.Response) -> dict[str, Any]:
    """A 200 JSON body with a RequestId (also in the x-acs-request-id header)."""
    body: dict[str, Any] = resp.json()
    assert resp.status_code == 200, body
    assert body["RequestId"]
    assert body["RequestId"] == resp.headers["x-acs-request-id"]
    return body
