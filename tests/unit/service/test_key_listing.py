"""What the console's Keys page and Create Key dialog ask the service, each in one call:
``list_keys`` with a search term and the newest first, ``names_by_key`` for the Alias column, and
``create_options`` for everything the dialog offers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from openkms.domain import errors, listing
from openkms.domain.actions import Action
from openkms.domain.authorization import Resource
from openkms.domain.identity import Caller
from openkms.domain.specs import ProtectionLevel
from openkms.service.backends import DEFAULT_STORE
from openkms.service.keys import CreateKeyRequest
from tests.inproc import Inproc, inproc_runtime


@dataclass
class Recording:
    """Allows everything except ``deny`` (an action name), and records the actions asked."""

    asked: list[str] = field(default_factory=list)
    deny: str | None = None

    def authorize(
        self, caller: Caller, action: Action, resource: Resource, conditions: Mapping[str, str] | None = None
    ) -> None:
        self.asked.append(action.name)
        if action.name == self.deny:
            raise errors.AccessDenied(action.ram_name, resource.arn)


@pytest.fixture
def recording() -> Recording:
    return Recording()


@pytest.fixture
def rt(tmp_path: Path, recording: Recording) -> Iterator[Inproc]:
    with inproc_runtime(tmp_path / "data", authorizer=recording) as runtime:
        yield runtime


@pytest.fixture
def ids(rt: Inproc) -> list[str]:
    """Five keys a second apart; keys 1 and 2 have aliases, key 3 is disabled."""
    keys = rt.runtime.services.keys
    made = []
    for n in range(5):
        alias = {1: "alias/App/Billing", 2: "alias/app/search"}.get(n)
        made.append(keys.create_key(rt.caller, CreateKeyRequest(alias=alias)).id)
        rt.clock.advance(1)
    keys.disable_key(rt.caller, made[3])
    return made


def test_without_a_search_nothing_changes(rt: Inproc, ids: list[str]) -> None:
    found, total = rt.runtime.services.keys.list_keys(rt.caller, listing.Page(1, 100))
    assert ([k.id for k in found], total) == (ids, 5)  # creation order, as ListKeys answers


def test_search_by_part_of_an_id_or_alias_in_any_case(rt: Inproc, ids: list[str]) -> None:
    keys = rt.runtime.services.keys

    def search(term: str) -> list[str]:
        found, total = keys.list_keys(rt.caller, listing.Page(1, 100), (), term)
        assert total == len(found)
        return [k.id for k in found]

    assert search("app/") == [ids[1], ids[2]]
    assert search("  BILLING ") == [ids[1]]
    assert search(ids[4][:13].upper()) == [ids[4]]
    assert search("no-such-key") == []
    assert search("   ") == ids  # blank: no search


def test_search_combines_with_filters_newest_first_and_pages(rt: Inproc, ids: list[str]) -> None:
    keys = rt.runtime.services.keys
    enabled = [listing.Filter("KeyState", ("Enabled",))]
    found, total = keys.list_keys(rt.caller, listing.Page(1, 2), enabled, newest_first=True)
    assert ([k.id for k in found], total) == ([ids[4], ids[2]], 4)
    found, total = keys.list_keys(rt.caller, listing.Page(2, 2), enabled, newest_first=True)
    assert ([k.id for k in found], total) == ([ids[1], ids[0]], 4)
    found, total = keys.list_keys(rt.caller, listing.Page(1, 10), enabled, "app", newest_first=True)
    assert ([k.id for k in found], total) == ([ids[2], ids[1]], 2)


def test_a_search_is_still_list_keys_for_the_authorizer(rt: Inproc, ids: list[str], recording: Recording) -> None:
    recording.asked.clear()
    rt.runtime.services.keys.list_keys(rt.caller, listing.Page(), (), "app")
    assert recording.asked == ["ListKeys"]
    recording.deny = "ListKeys"
    with pytest.raises(errors.AccessDenied):
        rt.runtime.services.keys.list_keys(rt.caller, listing.Page(), (), "app")


def test_names_by_key_reads_the_aliases_of_the_keys_shown(rt: Inproc, ids: list[str], recording: Recording) -> None:
    aliases = rt.runtime.services.aliases
    aliases.create_alias(rt.caller, "alias/second", ids[1])
    recording.asked.clear()
    assert aliases.names_by_key(rt.caller, [ids[0], ids[1]]) == {ids[1]: ["alias/App/Billing", "alias/second"]}
    assert recording.asked == ["ListAliases"]
    assert aliases.names_by_key(rt.caller, []) == {}


def test_create_options_is_capabilities_with_the_levels_of_every_key_store(rt: Inproc, recording: Recording) -> None:
    keys = rt.runtime.services.keys
    recording.asked.clear()
    options = keys.create_options(rt.caller)
    assert recording.asked == []  # not an API action: CreateKey asks when it is called
    capabilities = keys.capabilities(rt.caller.region)
    assert (options.region, options.specs, options.key_stores) == (
        capabilities.region,
        capabilities.specs,
        capabilities.key_stores,
    )
    assert capabilities.store_levels == {}
    assert next(iter(options.store_levels)) == DEFAULT_STORE
    assert set(options.store_levels) == {DEFAULT_STORE, *(s.id for s in options.key_stores)}
    for choice in options.specs:
        assert options.store_levels[DEFAULT_STORE][choice.spec.name] == choice.levels
    # Outside mainland China the SM specs are refused, at every level of every store.
    abroad = keys.create_options(Caller(rt.caller.account_uid, "ap-southeast-1"))
    for levels in abroad.store_levels.values():
        assert all(problem is not None for problem in levels["Aliyun_SM4"].values())
    assert abroad.store_levels[DEFAULT_STORE]["Aliyun_AES_256"][ProtectionLevel.SOFTWARE] is None
