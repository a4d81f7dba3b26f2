"""Small helpers shared by the key-management end-to-end tests."""

from __future__ import annotations

import calendar
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.e2e.clients import ApiError, Kms
from tests.servers import InProcessServer

DAY = 86_400
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def refusal(kms: Kms, action: str, **params: Any) -> tuple[int, str]:
    """Call an action that must fail; return its (HTTP status, Code). Every error names a RequestId."""
    with pytest.raises(ApiError) as err:
        kms.call(action, **params)
    assert err.value.request_id, "an error response must carry a RequestId"
    return err.value.status, err.value.code


def new_key(kms: Kms, **params: Any) -> dict[str, Any]:
    """CreateKey; returns the KeyMetadata."""
    meta: dict[str, Any] = kms.call("CreateKey", **params)["KeyMetadata"]
    return meta


def describe(kms: Kms, key_ref: str) -> dict[str, Any]:
    meta: dict[str, Any] = kms.call("DescribeKey", KeyId=key_ref)["KeyMetadata"]
    return meta


def epoch(iso: str) -> int:
    """``YYYY-MM-DDThh:mm:ssZ`` -> seconds since the epoch."""
    assert ISO_UTC.match(iso), iso
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def tags_json(pairs: dict[str, str] | list[tuple[str, str]]) -> str:
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return json.dumps([{"TagKey": k, "TagValue": v} for k, v in items])


def account_uid(server: InProcessServer, kms: Kms) -> str:
    """The account the client's AccessKey belongs to, asked of the server's identity service."""
    return str(server.services.identity.credential(kms.access_key_id).account_uid)


def other_account(server: InProcessServer, kms: Kms, region: str | None = None) -> Kms:
    """A client of the same SDK mode in a different, fresh account."""
    ak, secret, _ = server.new_account()
    return Kms(kms.mode, server.endpoint, ak, secret, region or kms.region)


def key_count(kms: Kms) -> int:
    return int(kms.call("ListKeys", PageSize=100)["TotalCount"])


@contextmanager
def time_travel(server: InProcessServer, seconds: float) -> Iterator[None]:
    """Move the server's clock forward for the block, then back: the session server is shared."""
    server.clock.advance(seconds)
    try:
        yield
    finally:
        server.clock.advance(-seconds)
