"""An alias of a key past its deletion window is gone with the key, for every alias action, even
before the background job purges it."""

from __future__ import annotations

import pytest

from openkms.domain import errors, listing
from openkms.service.keys import CreateKeyRequest
from tests.inproc import Inproc

DAY = 86_400


@pytest.fixture
def gone_alias(rt: Inproc) -> str:
    s = rt.runtime.services
    old = s.keys.create_key(rt.caller, CreateKeyRequest())
    s.aliases.create_alias(rt.caller, "alias/gone", old.id)
    s.keys.schedule_deletion(rt.caller, old.id, 7)
    rt.clock.advance(7 * DAY + 1)
    return "alias/gone"


def test_update_alias_does_not_revive_it(rt: Inproc, gone_alias: str) -> None:
    s = rt.runtime.services
    new = s.keys.create_key(rt.caller, CreateKeyRequest())
    with pytest.raises(errors.AliasNotFound):
        s.aliases.update_alias(rt.caller, gone_alias, new.id)
    with pytest.raises(errors.AliasNotFound):
        s.keys.describe_key(rt.caller, gone_alias)


def test_delete_alias_finds_nothing_to_delete(rt: Inproc, gone_alias: str) -> None:
    with pytest.raises(errors.AliasNotFound):
        rt.runtime.services.aliases.delete_alias(rt.caller, gone_alias)


def test_listing_agrees(rt: Inproc, gone_alias: str) -> None:
    aliases, total = rt.runtime.services.aliases.list_aliases(rt.caller, listing.Page())
    assert (aliases, total) == ([], 0)


def test_create_alias_takes_the_name_over(rt: Inproc, gone_alias: str) -> None:
    s = rt.runtime.services
    new = s.keys.create_key(rt.caller, CreateKeyRequest())
    s.aliases.create_alias(rt.caller, gone_alias, new.id)
    assert s.keys.describe_key(rt.caller, gone_alias).id == new.id


def test_create_key_with_the_alias_takes_the_name_over(rt: Inproc, gone_alias: str) -> None:
    """The console creates a key and its alias in one step, under the same rule as CreateAlias."""
    s = rt.runtime.services
    new = s.keys.create_key(rt.caller, CreateKeyRequest(alias=gone_alias))
    assert s.keys.describe_key(rt.caller, gone_alias).id == new.id
    with pytest.raises(errors.AliasAlreadyExists):
        s.keys.create_key(rt.caller, CreateKeyRequest(alias=gone_alias))
