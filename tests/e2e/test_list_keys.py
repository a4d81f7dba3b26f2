"""ListKeys: pagination, integer page fields, Filters and their refusals (spec §3.1, §2; test plan 20)."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.clients import Kms
from tests.e2e.keyutil import new_key, refusal, tags_json


def _ids(page: dict[str, Any]) -> list[str]:
    return [k["KeyId"] for k in page["Keys"]["Key"]]


def _filtered(kms: Kms, filters: list[dict[str, Any]], **params: Any) -> set[str]:
    page = kms.call("ListKeys", Filters=json.dumps(filters), PageSize=100, **params)
    assert page["TotalCount"] == len(page["Keys"]["Key"])
    return set(_ids(page))


def test_pagination_of_twelve_keys(kms: Kms) -> None:
    created = [new_key(kms) for _ in range(12)]
    pages = [kms.call("ListKeys", PageSize=5, PageNumber=n) for n in (1, 2, 3, 4)]
    assert [len(p["Keys"]["Key"]) for p in pages] == [5, 5, 2, 0]
    for number, page in enumerate(pages, start=1):
        # JSON integers, not strings.
        assert page["TotalCount"] == 12
        assert isinstance(page["TotalCount"], int)
        assert page["PageNumber"] == number
        assert isinstance(page["PageNumber"], int)
        assert page["PageSize"] == 5
        assert isinstance(page["PageSize"], int)
        assert page["RequestId"]
    listed = [i for p in pages for i in _ids(p)]
    assert len(listed) == len(set(listed)) == 12
    assert set(listed) == {k["KeyId"] for k in created}
    arns = {k["KeyId"]: k["KeyArn"] for p in pages for k in p["Keys"]["Key"]}
    assert arns == {k["KeyId"]: k["Arn"] for k in created}

    default = kms.call("ListKeys")
    assert (default["PageNumber"], default["PageSize"], len(default["Keys"]["Key"])) == (1, 10, 10)
    everything = kms.call("ListKeys", PageSize=100)
    assert _ids(everything) == listed  # a stable order across pages


def test_page_parameter_refusals(kms: Kms) -> None:
    new_key(kms)
    for params in (
        {"PageSize": 101},
        {"PageSize": 0},
        {"PageSize": -1},
        {"PageNumber": 0},
        {"PageNumber": -3},
        {"PageSize": "ten"},
        {"PageNumber": "1.5"},
    ):
        assert refusal(kms, "ListKeys", **params) == (400, "InvalidParameter"), params
    assert kms.call("ListKeys", PageSize=100)["PageSize"] == 100
    assert kms.call("ListKeys", PageSize=1)["Keys"]["Key"] != []


def test_filters(kms: Kms) -> None:
    a = new_key(kms, KeySpec="Aliyun_AES_128", Tags=tags_json({"team": "red"}))
    b = new_key(kms, KeySpec="Aliyun_AES_128")
    c = new_key(kms, KeySpec="Aliyun_AES_192", Tags=tags_json({"team": "blue"}))
    d = new_key(kms)
    e = new_key(kms)
    for key in (a, c):
        kms.call("DisableKey", KeyId=key["KeyId"])
    kms.call("ScheduleKeyDeletion", KeyId=e["KeyId"], PendingWindowInDays=7)
    kms.call("CreateAlias", AliasName="alias/flt", KeyId=d["KeyId"])
    ids = {k["KeyId"]: name for name, k in zip("abcde", (a, b, c, d, e), strict=True)}

    def names(filters: list[dict[str, Any]]) -> str:
        return "".join(sorted(ids[i] for i in _filtered(kms, filters)))

    # Every state is listed without a filter, PendingDeletion included.
    assert kms.call("ListKeys")["TotalCount"] == 5
    assert names([{"Key": "KeyState", "Values": ["Disabled"]}]) == "ac"
    assert names([{"Key": "KeyState", "Values": ["PendingDeletion"]}]) == "e"
    # Values of one key: OR.
    assert names([{"Key": "KeyState", "Values": ["Enabled", "Disabled"]}]) == "abcd"
    # Repeated entries with the same key: OR.
    assert (
        names([{"Key": "KeySpec", "Values": ["Aliyun_AES_128"]}, {"Key": "KeySpec", "Values": ["Aliyun_AES_192"]}])
        == "abc"
    )
    # Different keys: AND.
    assert names([{"Key": "KeyState", "Values": ["Disabled"]}, {"Key": "KeySpec", "Values": ["Aliyun_AES_128"]}]) == "a"
    assert names([{"Key": "KeyState", "Values": ["Enabled"]}, {"Key": "KeySpec", "Values": ["Aliyun_AES_192"]}]) == ""
    assert names([{"Key": "KeyUsage", "Values": ["ENCRYPT/DECRYPT"]}]) == "abcde"
    assert names([{"Key": "ProtectionLevel", "Values": ["HSM"]}]) == ""
    assert names([{"Key": "TagKey", "Values": ["team"]}]) == "ac"
    assert names([{"Key": "TagValue", "Values": ["blue"]}]) == "c"
    assert names([{"Key": "AliasName", "Values": ["alias/flt"]}]) == "d"
    assert names([{"Key": "keyId", "Values": [b["KeyId"]]}]) == "b"

    # The filtered total drives pagination.
    page = kms.call("ListKeys", Filters=json.dumps([{"Key": "KeyState", "Values": ["Enabled"]}]), PageSize=1)
    assert (page["TotalCount"], len(page["Keys"]["Key"])) == (2, 1)


def test_filter_refusals(kms: Kms) -> None:
    new_key(kms)
    ok_entry = {"Key": "KeyState", "Values": ["Enabled"]}
    bad_filters = [
        '[{"Key":"KeyState","Values":["Enabled"]}',  # not JSON
        '{"Key":"KeyState","Values":["Enabled"]}',  # not a list
        json.dumps([{"Key": "Colour", "Values": ["red"]}]),  # unknown filter key
        json.dumps([{"Key": "KeyState", "Values": "Enabled"}]),  # Values not a list
        json.dumps([{"Key": "KeyState", "Values": []}]),  # no values
        json.dumps([{"Key": "KeyState", "Values": [1]}]),  # not strings
        json.dumps([{"Values": ["Enabled"]}]),  # no Key
        json.dumps([{"Key": "KeyState", "Values": [f"v{i}" for i in range(11)]}]),  # > 10 values
        json.dumps([ok_entry] * 11),  # > 10 filters
    ]
    for filters in bad_filters:
        assert refusal(kms, "ListKeys", Filters=filters) == (400, "InvalidParameter"), filters
    assert kms.call("ListKeys", Filters=json.dumps([ok_entry] * 10))["TotalCount"] == 1
