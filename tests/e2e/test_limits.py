"""Per-account, per-region limits on keys and aliases, on a small server of their own (spec §4.12)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.clients import Kms
from tests.e2e.keyutil import new_key, refusal, tags_json
from tests.servers import InProcessServer, inprocess_server


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with inprocess_server(tmp_path_factory.mktemp("small") / "data", keys_per_region=3, aliases_per_region=2) as srv:
        yield srv


def _client(srv: InProcessServer, mode: str, region: str = "cn-hangzhou") -> Kms:
    ak, secret, _ = srv.new_account()
    return Kms(mode, srv.endpoint, ak, secret, region)


def _stored_rows(srv: InProcessServer, uid: str) -> tuple[int, int, int]:
    """(keys, versions, tags) of an account, read from the store itself."""
    with srv.runtime.store.read() as uow:
        found = uow.keys.list_in_region(uid, "cn-hangzhou")
        return (
            len(found),
            sum(len(uow.versions.list_for_key(k.id)) for k in found),
            sum(len(uow.tags.for_key(k.id)) for k in found),
        )


def test_key_limit_per_region(small_server: InProcessServer, mode: str) -> None:
    ak, secret, uid = small_server.new_account()
    kms = Kms(mode, small_server.endpoint, ak, secret)
    for _ in range(3):
        new_key(kms, Tags=tags_json({"n": "1"}))
    assert refusal(kms, "CreateKey", Tags=tags_json({"n": "4"})) == (400, "Rejected.LimitExceeded")
    # Nothing half-written: no fourth key, version or tag.
    assert kms.call("ListKeys")["TotalCount"] == 3
    assert _stored_rows(small_server, uid) == (3, 3, 3)
    # Keys in PendingDeletion still count.
    first = kms.call("ListKeys")["Keys"]["Key"][0]["KeyId"]
    kms.call("ScheduleKeyDeletion", KeyId=first, PendingWindowInDays=7)
    assert refusal(kms, "CreateKey") == (400, "Rejected.LimitExceeded")

    # The limit is per region and per account.
    shanghai = Kms(mode, small_server.endpoint, ak, secret, "cn-shanghai")
    assert new_key(shanghai)["Arn"].startswith("acs:kms:cn-shanghai:")
    assert new_key(_client(small_server, mode))["KeyState"] == "Enabled"


def test_alias_limit_per_region(small_server: InProcessServer, mode: str) -> None:
    kms = _client(small_server, mode)
    key = new_key(kms)
    kms.call("CreateAlias", AliasName="alias/a1", KeyId=key["KeyId"])
    kms.call("CreateAlias", AliasName="alias/a2", KeyId=key["KeyId"])
    assert refusal(kms, "CreateAlias", AliasName="alias/a3", KeyId=key["KeyId"]) == (400, "Rejected.LimitExceeded")
    assert kms.call("ListAliases")["TotalCount"] == 2
    kms.call("DeleteAlias", AliasName="alias/a1")
    kms.call("CreateAlias", AliasName="alias/a3", KeyId=key["KeyId"])
    assert {a["AliasName"] for a in kms.call("ListAliases")["Aliases"]["Alias"]} == {"alias/a2", "alias/a3"}
