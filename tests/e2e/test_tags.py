"""Tags per key (TagResource family) and in batches (TagResources family) (spec §3.4, §4.8; test plan 19)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.e2e.clients import Kms
from tests.e2e.keyutil import new_key, refusal, tags_json


def _tags(kms: Kms, key_id: str) -> dict[str, str]:
    rows = kms.call("ListResourceTags", KeyId=key_id)["Tags"]["Tag"]
    assert all(r["KeyId"] == key_id for r in rows)
    return {r["TagKey"]: r["TagValue"] for r in rows}


def _rows(kms: Kms, **params: Any) -> set[tuple[str, str, str]]:
    body = kms.call("ListTagResources", ResourceType="key", **params)
    assert body["NextToken"] == ""
    rows = body["TagResources"]["TagResource"]
    assert all(r["ResourceType"] == "key" for r in rows)
    return {(r["ResourceId"], r["TagKey"], r["TagValue"]) for r in rows}


def test_tag_untag_list_one_key(kms: Kms) -> None:
    kid = new_key(kms)["KeyId"]
    assert kms.call("ListResourceTags", KeyId=kid)["Tags"]["Tag"] == []
    assert set(kms.call("TagResource", KeyId=kid, Tags=tags_json({"k1": "v1", "k2": "v2"}))) == {"RequestId"}
    assert _tags(kms, kid) == {"k1": "v1", "k2": "v2"}
    # An existing TagKey is overwritten; others stay.
    kms.call("TagResource", KeyId=kid, Tags=tags_json({"k1": "v1b", "k3": ""}))
    assert _tags(kms, kid) == {"k1": "v1b", "k2": "v2", "k3": ""}
    # TagKeys as a JSON array (the documented example)...
    assert set(kms.call("UntagResource", KeyId=kid, TagKeys='["k1"]')) == {"RequestId"}
    assert _tags(kms, kid) == {"k2": "v2", "k3": ""}
    # ...or comma-separated (the model's description); unknown keys are ignored.
    kms.call("UntagResource", KeyId=kid, TagKeys="k2, nope")
    assert _tags(kms, kid) == {"k3": ""}
    kms.call("UntagResource", KeyId=kid, TagKeys="k3")
    assert _tags(kms, kid) == {}
    # Tags work on a Disabled key too (state table §4.3).
    kms.call("DisableKey", KeyId=kid)
    kms.call("TagResource", KeyId=kid, Tags=tags_json({"while": "disabled"}))
    assert _tags(kms, kid) == {"while": "disabled"}


def test_tag_resource_refusals(kms: Kms) -> None:
    kid = new_key(kms, Tags=tags_json({"keep": "me"}))["KeyId"]
    cases: list[tuple[str, dict[str, Any], tuple[int, str]]] = [
        ("TagResource", {"KeyId": kid}, (400, "MissingParameter")),
        ("TagResource", {"Tags": tags_json({"a": "b"})}, (400, "MissingParameter")),
        ("TagResource", {"KeyId": kid, "Tags": "[]"}, (400, "MissingParameter")),
        ("TagResource", {"KeyId": kid, "Tags": '[{"TagKey":"a"'}, (400, "InvalidParameter")),
        ("TagResource", {"KeyId": kid, "Tags": '{"TagKey":"a","TagValue":"b"}'}, (400, "InvalidParameter")),
        ("TagResource", {"KeyId": kid, "Tags": tags_json({"aliyun-x": "v"})}, (400, "InvalidParameter")),
        ("TagResource", {"KeyId": kid, "Tags": tags_json({"acs:x": "v"})}, (400, "InvalidParameter")),
        ("TagResource", {"KeyId": kid, "Tags": tags_json({"": "v"})}, (400, "InvalidParameter")),
        ("TagResource", {"KeyId": kid, "Tags": tags_json({"a#b": "v"})}, (400, "InvalidParameter")),
        ("TagResource", {"KeyId": kid, "Tags": tags_json({"k": "v" * 257})}, (400, "InvalidParameter")),
        ("TagResource", {"KeyId": str(uuid.uuid4()), "Tags": tags_json({"a": "b"})}, (404, "Forbidden.KeyNotFound")),
        ("TagResource", {"SecretName": "s", "Tags": tags_json({"a": "b"})}, (404, "Forbidden.ResourceNotFound")),
        ("TagResource", {"CertificateId": "c", "Tags": tags_json({"a": "b"})}, (400, "Rejected.UnsupportedOperation")),
        ("UntagResource", {"KeyId": kid}, (400, "MissingParameter")),
        ("UntagResource", {"KeyId": kid, "TagKeys": '["a"'}, (400, "InvalidParameter")),
        ("UntagResource", {"KeyId": kid, "TagKeys": "[1]"}, (400, "InvalidParameter")),
        ("UntagResource", {"KeyId": str(uuid.uuid4()), "TagKeys": "a"}, (404, "Forbidden.KeyNotFound")),
        ("ListResourceTags", {}, (400, "MissingParameter")),
        ("ListResourceTags", {"KeyId": str(uuid.uuid4())}, (404, "Forbidden.KeyNotFound")),
    ]
    for action, params, expected in cases:
        assert refusal(kms, action, **params) == expected, (action, params)
    assert _tags(kms, kid) == {"keep": "me"}

    # At most 20 tags per key, counting the ones it already has.
    kms.call("TagResource", KeyId=kid, Tags=tags_json({f"t{i}": "x" for i in range(19)}))
    assert len(_tags(kms, kid)) == 20
    kms.call("TagResource", KeyId=kid, Tags=tags_json({"t0": "overwrite"}))  # an overwrite is not a new tag
    assert refusal(kms, "TagResource", KeyId=kid, Tags=tags_json({"one-more": "x"})) == (
        400,
        "Rejected.LimitExceeded",
    )
    tags = _tags(kms, kid)
    assert len(tags) == 20
    assert "one-more" not in tags
    assert tags["t0"] == "overwrite"


def test_batch_tagging(kms: Kms) -> None:
    a, b, c = (new_key(kms)["KeyId"] for _ in range(3))
    kms.call(
        "TagResources",
        ResourceType="key",
        ResourceId=[a, b],
        Tag=[{"Key": "team", "Value": "red"}, {"Key": "env", "Value": "dev"}],
    )
    kms.call("TagResources", ResourceType="key", ResourceId=[c], Tag=[{"Key": "env", "Value": "prod"}])
    everything = {(a, "team", "red"), (a, "env", "dev"), (b, "team", "red"), (b, "env", "dev"), (c, "env", "prod")}
    assert _rows(kms) == everything
    assert _rows(kms, ResourceId=[a, c]) == {r for r in everything if r[0] in (a, c)}
    assert _rows(kms, Tag=[{"Key": "env"}]) == {r for r in everything if r[1] == "env"}
    assert _rows(kms, Tag=[{"Key": "env", "Value": "prod"}]) == {(c, "env", "prod")}
    assert _rows(kms, ResourceId=[b], Tag=[{"Key": "team"}]) == {(b, "team", "red")}
    assert _tags(kms, a) == {"team": "red", "env": "dev"}  # the per-key view agrees

    kms.call("UntagResources", ResourceType="key", ResourceId=[a, b], TagKey=["team"])
    assert _rows(kms) == {(a, "env", "dev"), (b, "env", "dev"), (c, "env", "prod")}
    # All=true removes every tag (TagKey absent).
    kms.call("UntagResources", ResourceType="key", ResourceId=[a, c], All=True)
    assert _rows(kms) == {(b, "env", "dev")}
    # All is ignored when TagKey names keys.
    kms.call("TagResources", ResourceType="key", ResourceId=[b], Tag=[{"Key": "x", "Value": "1"}])
    kms.call("UntagResources", ResourceType="key", ResourceId=[b], TagKey=["x"], All=True)
    assert _rows(kms) == {(b, "env", "dev")}


def test_batch_refusals_and_limits(kms: Kms) -> None:
    kid = new_key(kms)["KeyId"]
    tag = [{"Key": "k", "Value": "v"}]
    ids51 = [kid] * 51
    tags21 = [{"Key": f"k{i}", "Value": "v"} for i in range(21)]
    cases: list[tuple[str, dict[str, Any], tuple[int, str]]] = [
        ("TagResources", {"ResourceType": "cert", "ResourceId": [kid], "Tag": tag}, (400, "InvalidParameter")),
        (
            "TagResources",
            {"ResourceType": "secret", "ResourceId": [kid], "Tag": tag},
            (404, "Forbidden.ResourceNotFound"),
        ),
        ("TagResources", {"ResourceId": [kid], "Tag": tag}, (400, "MissingParameter")),
        ("TagResources", {"ResourceType": "key", "Tag": tag}, (400, "MissingParameter")),
        ("TagResources", {"ResourceType": "key", "ResourceId": [kid]}, (400, "MissingParameter")),
        ("TagResources", {"ResourceType": "key", "ResourceId": ids51, "Tag": tag}, (400, "InvalidParameter")),
        ("TagResources", {"ResourceType": "key", "ResourceId": [kid], "Tag": tags21}, (400, "InvalidParameter")),
        (
            "TagResources",
            {"ResourceType": "key", "ResourceId": [kid], "Tag": [{"Key": "aliyun:x", "Value": "v"}]},
            (400, "InvalidParameter"),
        ),
        ("UntagResources", {"ResourceType": "key", "ResourceId": [kid]}, (400, "MissingParameter")),
        ("UntagResources", {"ResourceType": "cert", "ResourceId": [kid], "All": True}, (400, "InvalidParameter")),
        ("UntagResources", {"ResourceType": "key", "ResourceId": ids51, "All": True}, (400, "InvalidParameter")),
        (
            "UntagResources",
            {"ResourceType": "key", "ResourceId": [kid], "TagKey": [f"k{i}" for i in range(21)]},
            (400, "InvalidParameter"),
        ),
        ("ListTagResources", {"ResourceType": "cert"}, (400, "InvalidParameter")),
        ("ListTagResources", {"ResourceType": "key", "ResourceId": ids51}, (400, "InvalidParameter")),
        ("ListTagResources", {"ResourceType": "key", "Tag": tags21}, (400, "InvalidParameter")),
        ("ListTagResources", {"ResourceType": "key", "NextToken": "not-a-token"}, (400, "InvalidParameter")),
        (
            "ListTagResources",
            {"ResourceType": "key", "ResourceId": [str(uuid.uuid4())]},
            (404, "Forbidden.KeyNotFound"),
        ),
    ]
    for action, params, expected in cases:
        assert refusal(kms, action, **params) == expected, (action, json.dumps(params)[:120])
    assert _rows(kms) == set()

    # Exactly at the limits: 50 ids (repeats allowed) and 20 tags.
    tags20 = tags21[:20]
    kms.call("TagResources", ResourceType="key", ResourceId=[kid] * 50, Tag=tags20)
    assert len(_rows(kms, ResourceId=[kid])) == 20

    # One unknown key in the batch: nothing is tagged anywhere.
    other = new_key(kms)["KeyId"]
    assert refusal(kms, "TagResources", ResourceType="key", ResourceId=[other, str(uuid.uuid4())], Tag=tag) == (
        404,
        "Forbidden.KeyNotFound",
    )
    assert _tags(kms, other) == {}


def test_list_tag_resources_pages_of_200(kms: Kms) -> None:
    ids = [new_key(kms)["KeyId"] for _ in range(11)]
    tags = [{"Key": f"k{i:02d}", "Value": "v"} for i in range(20)]
    kms.call("TagResources", ResourceType="key", ResourceId=ids, Tag=tags)  # 220 (key, tag) rows
    first = kms.call("ListTagResources", ResourceType="key")
    assert len(first["TagResources"]["TagResource"]) == 200
    assert first["NextToken"] != ""
    second = kms.call("ListTagResources", ResourceType="key", NextToken=first["NextToken"])
    assert len(second["TagResources"]["TagResource"]) == 20
    assert second["NextToken"] == ""
    rows = {(r["ResourceId"], r["TagKey"]) for page in (first, second) for r in page["TagResources"]["TagResource"]}
    assert rows == {(i, t["Key"]) for i in ids for t in tags}
