"""Token objects follow their rows: what an HSM makes before a check that then fails is destroyed.

Key generation runs before the transaction that records it (it must not hold the database lock),
so a refused CreateKey, a rotation that lost its compare-and-set or a refused import must destroy
the object it made: otherwise any caller at its quota could fill the token every account shares.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from openkms.crypto.pkcs11_session import TokenSessions, open_token, release
from openkms.domain import errors
from openkms.domain.rotation import DAY
from openkms.domain.specs import Origin, ProtectionLevel
from openkms.service.keys import CreateKeyRequest
from tests.e2e.clients import ApiError, Kms
from tests.hsm_support import requires_softhsm, shared_token
from tests.nodes import oks, race, two_nodes, wrap_for_import
from tests.servers import _hsm_settings, inprocess_server
from tests.stores import ADAPTERS

pytestmark = requires_softhsm

HSM = ProtectionLevel.HSM


@pytest.fixture(scope="module")
def token() -> Iterator[TokenSessions]:
    sessions = open_token(shared_token())
    yield sessions
    release(sessions)


def object_count(token: TokenSessions) -> int:
    with token.session() as s:
        return sum(1 for _ in s.session.get_objects())


def test_refused_hsm_create_keys_leave_the_token_unchanged(tmp_path: Path, token: TokenSessions) -> None:
    with inprocess_server(tmp_path / "data", keys_per_region=2) as srv:
        kms = Kms("new-v3", srv.endpoint, srv.access_key_id, srv.secret)
        for spec in ("Aliyun_AES_256", "EC_P256"):
            kms.call("CreateKey", KeySpec=spec, ProtectionLevel="HSM")
        before = object_count(token)
        for n in range(40):
            with pytest.raises(ApiError) as err:
                kms.call("CreateKey", KeySpec="EC_P256" if n % 2 else "Aliyun_AES_256", ProtectionLevel="HSM")
            assert err.value.code == "Rejected.LimitExceeded"
        assert object_count(token) == before


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_rotation_that_loses_its_race_destroys_its_object(adapter: str, tmp_path: Path, token: TokenSessions) -> None:
    with two_nodes(adapter, tmp_path, **_hsm_settings()) as c:
        a, b = c.nodes
        made = [
            a.keys.create_key(
                c.caller, CreateKeyRequest(protection_level=HSM, rotation_enabled=True, rotation_interval=7 * DAY)
            )
            for _ in range(6)
        ]
        before = object_count(token)
        c.clock.advance(7 * DAY + 1)
        reports = race(a.scheduler.run_once, b.scheduler.run_once)
        rotated = [kid for _, report in reports for kid in report.rotated]
        assert sorted(rotated) == sorted(k.id for k in made)
        assert object_count(token) == before + len(made)  # one new version each, nothing left behind


def test_a_refused_import_and_a_refused_version_destroy_their_objects(tmp_path: Path, token: TokenSessions) -> None:
    with two_nodes("sqlite", tmp_path, **_hsm_settings()) as c:
        a, b = c.nodes
        me = c.caller
        key = a.keys.create_key(me, CreateKeyRequest(protection_level=HSM, origin=Origin.EXTERNAL))
        first = a.importing.get_parameters(me, key.id, "RSAES_OAEP_SHA_1", "RSA_2048")
        a.importing.import_material(
            me, key.id, first.token, wrap_for_import(first.public_key, os.urandom(32), sha1=True), None
        )
        again = a.importing.get_parameters(me, key.id, "RSAES_OAEP_SHA_1", "RSA_2048")
        before = object_count(token)
        with pytest.raises(errors.InvalidKeyMaterial):  # other material than the key is bound to
            a.importing.import_material(
                me, key.id, again.token, wrap_for_import(again.public_key, os.urandom(32), sha1=True), None
            )
        assert object_count(token) == before

        ec_key = a.keys.create_key(me, CreateKeyRequest(spec="EC_P256", protection_level=HSM))
        c.clock.advance(7 * DAY + 1)
        before = object_count(token)
        a.versions.create_key_version(me, ec_key.id)
        per_version = object_count(token) - before
        assert per_version > 0
        c.clock.advance(7 * DAY + 1)
        before = object_count(token)
        outcomes = race(
            partial(a.versions.create_key_version, me, ec_key.id), partial(b.versions.create_key_version, me, ec_key.id)
        )
        assert oks(outcomes) == 1, outcomes  # the loser made its key pair, then lost on the spacing rule
        assert object_count(token) == before + per_version
