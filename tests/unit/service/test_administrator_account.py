"""The administrator's account is the one made at the first start, recorded with the data: an
account made in the same second (account times are in seconds) never takes its place, whatever
its uid. ``accesskey create`` and the ``ram`` commands act in it unless told otherwise."""

from __future__ import annotations

import pytest

from openkms.crypto.sealing import AesGcmSealer
from openkms.domain import errors
from openkms.domain.identity import Account
from openkms.service.identity import ADMINISTRATOR_ACCOUNT, IdentityService
from tests.unit.service.conftest import World


def identity(world: World) -> IdentityService:
    return IdentityService(world.store, AesGcmSealer(bytes(range(32))), world.clock)


def test_an_account_of_the_same_second_with_a_smaller_uid_is_not_the_administrators(world: World) -> None:
    ids = identity(world)
    issued = ids.bootstrap_admin(None, None)
    assert issued is not None
    administrator = issued.access_key.account_uid
    with world.store.write() as uow:  # the same second, and first in uid order
        uow.accounts.add(Account("1000000000000000", int(world.clock.now())))
    assert ids.account() == administrator
    assert ids.create_access_key().access_key.account_uid == administrator
    assert ids.account("1000000000000000") == "1000000000000000"
    # Later starts keep the record, and an environment pair goes to the administrator.
    assert ids.bootstrap_admin("LTAIfromTheEnvironment00", "s" * 30) is None
    assert world.store.node_value(ADMINISTRATOR_ACCOUNT) == administrator.encode()
    assert ids.credential("LTAIfromTheEnvironment00").account_uid == administrator


def test_a_database_from_before_the_record_gets_its_first_account(world: World) -> None:
    with world.store.write() as uow:
        uow.accounts.add(Account("2000000000000000", int(world.clock.now()) - 10))
        uow.accounts.add(Account("1000000000000000", int(world.clock.now())))
    ids = identity(world)
    assert ids.account() == "2000000000000000"
    assert ids.bootstrap_admin(None, None) is None
    assert world.store.node_value(ADMINISTRATOR_ACCOUNT) == b"2000000000000000"


def test_no_account_yet_and_an_unknown_account_are_refused(world: World) -> None:
    ids = identity(world)
    with pytest.raises(errors.InvalidParameter, match="start the server once"):
        ids.account()
    ids.bootstrap_admin(None, None)
    with pytest.raises(errors.InvalidParameter, match="No account 42"):
        ids.account("42")
