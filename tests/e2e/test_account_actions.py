"""DescribeRegions, DescribeAccountKmsStatus, OpenKmsService, GetRandomPassword (spec §3.8; test plan 2, 22)."""

from __future__ import annotations

import string
from typing import Any

from tests.e2e.clients import Kms
from tests.e2e.keyutil import refusal
from tests.servers import InProcessServer

PUNCTUATION = set(string.punctuation)


def test_describe_regions(kms: Kms, server: InProcessServer) -> None:
    body = kms.call("DescribeRegions")
    assert body["RequestId"]
    listed = [r["RegionId"] for r in body["Regions"]["Region"]]
    assert listed == [r.id for r in server.services.regions.regions]
    assert {"cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen", "ap-southeast-1", "us-west-1"} <= set(listed)


def test_account_status_and_open_service(kms: Kms) -> None:
    body = kms.call("DescribeAccountKmsStatus")
    assert body["AccountStatus"] == "Enabled"
    assert body["RequestId"]
    # A self-hosted KMS is always open: OpenKmsService answers as the cloud does for a second call.
    assert refusal(kms, "OpenKmsService") == (400, "Forbidden.Opened")


def _password(kms: Kms, **params: Any) -> str:
    value = kms.call("GetRandomPassword", **params)["RandomPassword"]
    assert isinstance(value, str)
    return value


def test_random_password_defaults_and_lengths(kms: Kms) -> None:
    default = _password(kms)
    assert len(default) == 32
    assert all(32 < ord(ch) < 127 for ch in default)  # printable ASCII, no spaces
    assert _password(kms) != default
    for length in (8, 16, 128):
        assert len(_password(kms, PasswordLength=str(length))) == length
    for bad in ("7", "129", "0", "-1", "abc", "16.0"):
        assert refusal(kms, "GetRandomPassword", PasswordLength=bad) == (400, "InvalidParameter"), bad


def test_random_password_classes(kms: Kms) -> None:
    # The test plan's item 22.
    for _ in range(3):
        pw = _password(kms, PasswordLength="16", ExcludePunctuation="true", RequireEachIncludedType="true")
        assert len(pw) == 16
        assert not set(pw) & PUNCTUATION
        assert any(c.islower() for c in pw)
        assert any(c.isupper() for c in pw)
        assert any(c.isdigit() for c in pw)
    # RequireEachIncludedType: even at length 8, every class of the 94 characters appears. Without the
    # rule fewer than half of random 8-character passwords would; eight in a row would be luck.
    for _ in range(8):
        pw = _password(kms, PasswordLength="8", RequireEachIncludedType="true")
        assert any(c.islower() for c in pw)
        assert any(c.isupper() for c in pw)
        assert any(c.isdigit() for c in pw)
        assert set(pw) & PUNCTUATION
    only_digits = _password(kms, ExcludeLowercase="true", ExcludeUppercase="true", ExcludePunctuation="true")
    assert only_digits.isdigit()
    assert len(only_digits) == 32
    only_punct = _password(kms, ExcludeLowercase="true", ExcludeUppercase="true", ExcludeNumbers="true")
    assert set(only_punct) <= PUNCTUATION
    excluded = "abcdefghijklmABCDEFGHIJKLM0123456789!\"#$%&'()*+,-./"
    pw = _password(kms, PasswordLength="128", ExcludeCharacters=excluded)
    assert len(pw) == 128
    assert not set(pw) & set(excluded)


def test_random_password_refusals(kms: Kms) -> None:
    everything_off = {
        "ExcludeLowercase": "true",
        "ExcludeUppercase": "true",
        "ExcludeNumbers": "true",
        "ExcludePunctuation": "true",
    }
    assert refusal(kms, "GetRandomPassword", **everything_off) == (400, "InvalidParameter")
    assert refusal(
        kms,
        "GetRandomPassword",
        ExcludeLowercase="true",
        ExcludeUppercase="true",
        ExcludePunctuation="true",
        ExcludeCharacters="0123456789",
    ) == (400, "InvalidParameter")
    assert refusal(kms, "GetRandomPassword", ExcludeNumbers="maybe") == (400, "InvalidParameter")
