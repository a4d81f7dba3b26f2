"""The Store port (domain/ports.py), one suite run against every adapter: SQLite always,
PostgreSQL when OPENKMS_TEST_POSTGRES_URL is set (see tests/stores.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from openkms.domain import errors
from openkms.domain.aliases import Alias
from openkms.domain.identity import AccessKey, AccessKeyStatus, Account
from openkms.domain.importing import ImportToken
from openkms.domain.keys import Key, KeyVersion
from openkms.domain.ports import Store
from openkms.domain.specs import KeyUsage, Origin, ProtectionLevel
from openkms.domain.states import KeyState
from openkms.domain.tags import Tag
from openkms.storage.factory import open_store
from openkms.storage.sql import SqlStore

UID, OTHER_UID = "1000000000000001", "1000000000000002"
REGION, OTHER_REGION = "cn-hangzhou", "cn-shanghai"
T0 = 1_700_000_000
DAY = 86_400


def kid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def vid(n: int) -> str:
    return f"11111111-0000-4000-8000-{n:012d}"


def make_key(n: int, **overrides: Any) -> Key:
    values: dict[str, Any] = {
        "id": kid(n),
        "account_uid": UID,
        "region": REGION,
        "spec": "Aliyun_AES_256",
        "usage": KeyUsage.ENCRYPT_DECRYPT,
        "origin": Origin.ALIYUN_KMS,
        "protection_level": ProtectionLevel.SOFTWARE,
        "state": KeyState.ENABLED,
        "created_at": T0 + n,
        "creator": UID,
        "primary_version_id": vid(n),
        "last_rotation_at": T0 + n,
    }
    values.update(overrides)
    return Key(**values)


def make_version(n: int, key: int, created_at: int | None = None, **overrides: Any) -> KeyVersion:
    return KeyVersion(
        vid(n), kid(key), T0 + n if created_at is None else created_at, bytes([n % 256]) * 61, **overrides
    )


def add_keys(store: Store, *key_list: Key) -> None:
    with store.write() as uow:
        for key in key_list:
            uow.keys.add(key)


# --- keys -------------------------------------------------------------------------------------------


def test_key_round_trip_keeps_every_field(store: Store) -> None:
    full = make_key(
        1,
        description="wörld ☃ " + "x" * 9000,
        rotation_enabled=True,
        rotation_interval=30 * DAY,
        delete_at=T0 + 7 * DAY,
        material_expire_at=T0 + 9 * DAY,
        deletion_protection=True,
        deletion_protection_description="keep",
        policy='{"Version":"1","Statement":[{"Effect":"Allow"}]}',
        key_store_id="kst-1",
        material_fingerprint=b"\x00\xff" * 16,
        state=KeyState.PENDING_DELETION,
        origin=Origin.EXTERNAL,
        protection_level=ProtectionLevel.HSM,
    )
    bare = make_key(2, primary_version_id=None, last_rotation_at=None, spec="RSA_2048", usage=KeyUsage.SIGN_VERIFY)
    add_keys(store, full, bare)
    with store.read() as uow:
        assert uow.keys.get(UID, REGION, full.id) == full
        assert uow.keys.get(UID, REGION, bare.id) == bare
        got = uow.keys.get(UID, REGION, full.id)
        assert got is not None
        assert type(got.deletion_protection) is bool
        assert got.state is KeyState.PENDING_DELETION


def test_keys_are_scoped_by_account_and_region(store: Store) -> None:
    add_keys(store, make_key(1), make_key(2, account_uid=OTHER_UID), make_key(3, region=OTHER_REGION))
    with store.read() as uow:
        assert uow.keys.get(OTHER_UID, REGION, kid(1)) is None
        assert uow.keys.get(UID, OTHER_REGION, kid(1)) is None
        assert uow.keys.get(UID, REGION, kid(99)) is None
        assert [k.id for k in uow.keys.list_in_region(UID, REGION)] == [kid(1)]
        assert uow.keys.count(UID, REGION) == 1
        assert uow.keys.count(OTHER_UID, REGION) == 1
        assert uow.keys.count(OTHER_UID, OTHER_REGION) == 0


def test_key_save_changes_every_field(store: Store) -> None:
    key = make_key(1)
    add_keys(store, key)
    changed = replace(
        key,
        state=KeyState.DISABLED,
        description="new",
        primary_version_id=vid(9),
        last_rotation_at=T0 + 100,
        rotation_enabled=True,
        rotation_interval=7 * DAY,
        delete_at=T0 + 5,
        deletion_protection=True,
        deletion_protection_description="d",
        policy="p",
        material_fingerprint=b"f",
        material_expire_at=T0 + 6,
    )
    with store.write() as uow:
        uow.keys.save(changed)
    with store.read() as uow:
        assert uow.keys.get(UID, REGION, key.id) == changed
    with store.write() as uow:
        uow.keys.save(key)  # and back again, None included
    with store.read() as uow:
        assert uow.keys.get(UID, REGION, key.id) == key


def test_key_list_is_in_creation_order(store: Store) -> None:
    add_keys(store, make_key(3, created_at=T0), make_key(1, created_at=T0 + 5), make_key(2, created_at=T0))
    with store.read() as uow:
        assert [k.id for k in uow.keys.list_in_region(UID, REGION)] == [kid(2), kid(3), kid(1)]


def test_due_for_rotation(store: Store) -> None:
    base = {"rotation_enabled": True, "rotation_interval": 7 * DAY, "last_rotation_at": T0}
    add_keys(
        store,
        make_key(1, **base),  # due at T0 + 7d
        make_key(2, **{**base, "last_rotation_at": T0 + 1}),  # due a second later
        make_key(3, **{**base, "state": KeyState.DISABLED}),  # suspended
        make_key(4, **{**base, "state": KeyState.PENDING_DELETION}),
        make_key(5, **{**base, "rotation_enabled": False}),
        make_key(6, **{**base, "account_uid": OTHER_UID}),  # every account
    )
    with store.read() as uow:
        assert sorted(k.id for k in uow.keys.due_for_rotation(T0 + 7 * DAY)) == [kid(1), kid(6)]
        assert sorted(k.id for k in uow.keys.due_for_rotation(T0 + 7 * DAY + 1)) == [kid(1), kid(2), kid(6)]
        assert uow.keys.due_for_rotation(T0 + 7 * DAY - 1) == []


def test_past_deletion(store: Store) -> None:
    add_keys(
        store,
        make_key(1, state=KeyState.PENDING_DELETION, delete_at=T0),
        make_key(2, state=KeyState.PENDING_DELETION, delete_at=T0 + 1),
        make_key(3, state=KeyState.ENABLED, delete_at=T0),  # cancelled: the state decides
    )
    with store.read() as uow:
        assert [k.id for k in uow.keys.past_deletion(T0)] == [kid(1)]
        assert sorted(k.id for k in uow.keys.past_deletion(T0 + 1)) == [kid(1), kid(2)]


def test_with_stale_material(store: Store) -> None:
    ext = {"origin": Origin.EXTERNAL}
    add_keys(
        store,
        make_key(1, **ext, material_expire_at=T0),  # expired
        make_key(2, **ext, material_expire_at=T0 + 1),  # not yet
        make_key(3, **ext, state=KeyState.PENDING_IMPORT),  # material deleted, version still there
        make_key(4, **ext, state=KeyState.PENDING_IMPORT, primary_version_id=None),  # nothing to delete
        make_key(5, material_expire_at=T0),  # not EXTERNAL
    )
    with store.read() as uow:
        assert sorted(k.id for k in uow.keys.with_stale_material(T0)) == [kid(1), kid(3)]


def test_purge_removes_the_key_and_everything_of_it(store: Store) -> None:
    add_keys(store, make_key(1), make_key(2))
    with store.write() as uow:
        for key in (1, 2):
            uow.versions.add(make_version(key * 10, key))
            uow.versions.add(make_version(key * 10 + 1, key))
            uow.aliases.add(Alias(f"alias/k{key}", kid(key), UID, REGION, T0))
            uow.tags.replace(kid(key), [Tag("a", "1")])
            uow.import_tokens.add(make_token(key, key))
    with store.write() as uow:
        uow.keys.purge(kid(1))
    with store.read() as uow:
        assert uow.keys.get(UID, REGION, kid(1)) is None
        assert uow.versions.list_for_key(kid(1)) == []
        assert uow.versions.get(vid(10)) is None
        assert uow.aliases.get(UID, REGION, "alias/k1") is None
        assert uow.tags.for_key(kid(1)) == []
        assert uow.import_tokens.get(f"token-{1}") is None
        # The other key is untouched.
        assert uow.keys.get(UID, REGION, kid(2)) is not None
        assert len(uow.versions.list_for_key(kid(2))) == 2
        assert uow.aliases.get(UID, REGION, "alias/k2") is not None
        assert uow.tags.for_key(kid(2)) == [Tag("a", "1")]
        assert uow.import_tokens.get("token-2") is not None


# --- versions -----------------------------------------------------------------------------------------


def test_versions(store: Store) -> None:
    add_keys(store, make_key(1), make_key(2))
    with store.write() as uow:
        uow.versions.add(make_version(1, 1, created_at=T0))
        uow.versions.add(make_version(3, 1, created_at=T0 + 10))
        uow.versions.add(make_version(2, 1, created_at=T0 + 10))  # same second: id breaks the tie
        uow.versions.add(make_version(4, 2, public_key=b"\x30\x82spki"))
    with store.read() as uow:
        assert uow.versions.get(vid(1)) == make_version(1, 1, created_at=T0)
        assert uow.versions.get(vid(4)) == make_version(4, 2, public_key=b"\x30\x82spki")
        assert uow.versions.get(vid(99)) is None
        assert [v.id for v in uow.versions.list_for_key(kid(1))] == [vid(3), vid(2), vid(1)]  # newest first
        assert uow.versions.list_for_key(kid(3)) == []
    with store.write() as uow:
        uow.versions.set_material(vid(1), b"")
    with store.read() as uow:
        v = uow.versions.get(vid(1))
        assert v is not None
        assert v.material_ref == b""
        assert isinstance(v.material_ref, bytes)


def test_a_version_needs_its_key(store: Store) -> None:
    with pytest.raises(errors.BackendUnavailable), store.write() as uow:
        uow.versions.add(make_version(1, 404))
    with store.read() as uow:
        assert uow.versions.get(vid(1)) is None


# --- aliases --------------------------------------------------------------------------------------------


def test_aliases(store: Store) -> None:
    add_keys(store, make_key(1), make_key(2), make_key(3, region=OTHER_REGION))
    with store.write() as uow:
        uow.aliases.add(Alias("alias/b", kid(1), UID, REGION, T0 + 1))
        uow.aliases.add(Alias("alias/a", kid(1), UID, REGION, T0 + 1))
        uow.aliases.add(Alias("alias/c", kid(2), UID, REGION, T0))
        uow.aliases.add(Alias("alias/a", kid(3), UID, OTHER_REGION, T0))  # the same name in another region
    with store.read() as uow:
        assert uow.aliases.get(UID, REGION, "alias/a") == Alias("alias/a", kid(1), UID, REGION, T0 + 1)
        assert uow.aliases.get(UID, OTHER_REGION, "alias/a") == Alias("alias/a", kid(3), UID, OTHER_REGION, T0)
        assert uow.aliases.get(OTHER_UID, REGION, "alias/a") is None
        assert [a.name for a in uow.aliases.list_in_region(UID, REGION)] == ["alias/c", "alias/a", "alias/b"]
        assert [a.name for a in uow.aliases.list_for_key(kid(1))] == ["alias/a", "alias/b"]
        assert uow.aliases.count(UID, REGION) == 3
        assert uow.aliases.count(UID, OTHER_REGION) == 1
    with store.write() as uow:
        alias = uow.aliases.get(UID, REGION, "alias/b")
        assert alias is not None
        uow.aliases.retarget(alias, kid(2))
        uow.aliases.delete(Alias("alias/c", kid(2), UID, REGION, T0))
    with store.read() as uow:
        assert [a.name for a in uow.aliases.list_for_key(kid(2))] == ["alias/b"]
        assert uow.aliases.get(UID, REGION, "alias/c") is None
        assert uow.aliases.count(UID, REGION) == 2


def test_a_duplicate_alias_is_refused_and_rolled_back(store: Store) -> None:
    add_keys(store, make_key(1), make_key(2))
    with store.write() as uow:
        uow.aliases.add(Alias("alias/a", kid(1), UID, REGION, T0))

    def add_two() -> None:
        with store.write() as uow:
            uow.aliases.add(Alias("alias/other", kid(2), UID, REGION, T0))
            uow.aliases.add(Alias("alias/a", kid(2), UID, REGION, T0))

    with pytest.raises(errors.BackendUnavailable):
        add_two()
    with store.read() as uow:
        assert uow.aliases.get(UID, REGION, "alias/a") == Alias("alias/a", kid(1), UID, REGION, T0)
        assert uow.aliases.get(UID, REGION, "alias/other") is None


# --- tags ---------------------------------------------------------------------------------------------------


def test_tags(store: Store) -> None:
    add_keys(store, make_key(1), make_key(2), make_key(3, region=OTHER_REGION))
    with store.write() as uow:
        uow.tags.replace(kid(1), [Tag("b", "2"), Tag("a", "")])
        uow.tags.replace(kid(2), [Tag("x", "y")])
        uow.tags.replace(kid(3), [Tag("other", "region")])
    with store.read() as uow:
        assert uow.tags.for_key(kid(1)) == [Tag("a", ""), Tag("b", "2")]  # by tag key
        assert uow.tags.list_for_region(UID, REGION) == {kid(1): [Tag("a", ""), Tag("b", "2")], kid(2): [Tag("x", "y")]}
        assert uow.tags.list_for_region(OTHER_UID, REGION) == {}
    with store.write() as uow:
        uow.tags.replace(kid(1), [Tag("c", "3")])
        uow.tags.replace(kid(2), [])
    with store.read() as uow:
        assert uow.tags.for_key(kid(1)) == [Tag("c", "3")]
        assert uow.tags.for_key(kid(2)) == []


# --- import tokens --------------------------------------------------------------------------------------------


def make_token(n: int, key: int, expires_at: int = T0 + DAY) -> ImportToken:
    return ImportToken(
        f"token-{n}", kid(key), "RSA_2048", "RSAES_OAEP_SHA_256", b"sealed" * 10, b"spki", T0, expires_at
    )


def test_import_tokens(store: Store) -> None:
    add_keys(store, make_key(1))
    with store.write() as uow:
        uow.import_tokens.add(make_token(1, 1, expires_at=T0 + 10))
        uow.import_tokens.add(make_token(2, 1, expires_at=T0 + 20))
    with store.read() as uow:
        assert uow.import_tokens.get("token-1") == make_token(1, 1, expires_at=T0 + 10)
        assert uow.import_tokens.get("nope") is None
    with store.read() as uow:
        assert [tok.id for tok in uow.import_tokens.expired(T0 + 10)] == ["token-1"]
    with store.write() as uow:
        uow.import_tokens.delete("token-1")
    with store.read() as uow:
        assert uow.import_tokens.get("token-1") is None
        assert uow.import_tokens.get("token-2") is not None


def test_hsm_references_are_what_hsm_keys_rows_name_outside_the_database(store: Store) -> None:
    hsm = {"protection_level": ProtectionLevel.HSM}
    add_keys(store, make_key(1, **hsm), make_key(2), make_key(3, **hsm))
    with store.write() as uow:
        uow.versions.add(replace(make_version(1, 1), material_ref=b"pkcs11:v1:openkms:" + vid(1).encode()))
        uow.versions.add(replace(make_version(4, 1), material_ref=b""))  # material deleted
        uow.versions.add(make_version(2, 2))  # a software key's sealed material is never read
        uow.import_tokens.add(replace(make_token(1, 3), sealed_private_key=b"pkcs11:v1:openkms:import:token-1"))
        uow.import_tokens.add(make_token(2, 2))
    with store.read() as uow:
        assert uow.keys.hsm_references() == {
            b"pkcs11:v1:openkms:" + vid(1).encode(),
            b"pkcs11:v1:openkms:import:token-1",
        }


# --- accounts and access keys -----------------------------------------------------------------------------------


def test_accounts(store: Store) -> None:
    with store.write() as uow:
        uow.accounts.add(Account(OTHER_UID, T0 + 1))
        uow.accounts.add(Account(UID, T0))
    with store.read() as uow:
        assert uow.accounts.get(UID) == Account(UID, T0)
        assert uow.accounts.get("0") is None
        assert uow.accounts.list_all() == [Account(UID, T0), Account(OTHER_UID, T0 + 1)]


def test_access_keys(store: Store) -> None:
    ak = AccessKey("LTAI0000000000000000001", UID, b"\x01sealed-secret", AccessKeyStatus.ENABLED, T0, "admin")
    ak2 = AccessKey("LTAI0000000000000000002", UID, b"\x01other", AccessKeyStatus.DISABLED, T0 + 1)
    with store.write() as uow:
        uow.accounts.add(Account(UID, T0))
        uow.access_keys.add(ak2)
        uow.access_keys.add(ak)
    with store.read() as uow:
        assert uow.access_keys.get(ak.id) == ak
        assert uow.access_keys.get(ak2.id) == ak2
        assert uow.access_keys.get("LTAI-unknown") is None
        assert uow.access_keys.list_all() == [ak, ak2]
    changed = replace(ak, status=AccessKeyStatus.DISABLED, sealed_secret=b"\x01new", description="rotated")
    with store.write() as uow:
        uow.access_keys.save(changed)
        uow.access_keys.delete(ak2.id)
    with store.read() as uow:
        assert uow.access_keys.list_all() == [changed]


def test_an_access_key_needs_its_account(store: Store) -> None:
    ak = AccessKey("LTAI0000000000000000001", "999", b"s", AccessKeyStatus.ENABLED, T0)
    with pytest.raises(errors.BackendUnavailable), store.write() as uow:
        uow.access_keys.add(ak)
    with store.read() as uow:
        assert uow.access_keys.list_all() == []


# --- transactions -------------------------------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_an_exception_inside_write_leaves_nothing_written(store: Store) -> None:
    add_keys(store, make_key(9))

    def write_everything_then_fail() -> None:
        with store.write() as uow:
            uow.accounts.add(Account(UID, T0))
            uow.access_keys.add(AccessKey("LTAI1", UID, b"s", AccessKeyStatus.ENABLED, T0))
            uow.keys.add(make_key(1))
            uow.versions.add(make_version(1, 1))
            uow.aliases.add(Alias("alias/a", kid(1), UID, REGION, T0))
            uow.tags.replace(kid(1), [Tag("a", "1")])
            uow.import_tokens.add(make_token(1, 1))
            key9 = uow.keys.get(UID, REGION, kid(9))
            assert key9 is not None
            uow.keys.save(replace(key9, description="changed"))
            # Inside the transaction the writes are visible...
            assert uow.keys.get(UID, REGION, kid(1)) is not None
            raise Boom

    with pytest.raises(Boom):
        write_everything_then_fail()
    # ...and after the exception none of them is.
    with store.read() as uow:
        assert uow.accounts.list_all() == []
        assert uow.access_keys.list_all() == []
        assert uow.keys.get(UID, REGION, kid(1)) is None
        assert uow.versions.get(vid(1)) is None
        assert uow.aliases.list_in_region(UID, REGION) == []
        assert uow.tags.for_key(kid(1)) == []
        assert uow.import_tokens.get("token-1") is None
        assert uow.keys.get(UID, REGION, kid(9)) == make_key(9)


def test_domain_errors_pass_through_write_unchanged(store: Store) -> None:
    def add_then_refuse() -> None:
        with store.write() as uow:
            uow.keys.add(make_key(1))
            raise errors.AliasAlreadyExists()

    with pytest.raises(errors.AliasAlreadyExists):
        add_then_refuse()
    with store.read() as uow:
        assert uow.keys.count(UID, REGION) == 0


def test_a_committed_write_is_visible_to_later_reads(store: Store) -> None:
    with store.read() as uow:
        assert uow.keys.count(UID, REGION) == 0  # a read before, on the reader's connection
    add_keys(store, make_key(1))
    with store.read() as uow:
        assert uow.keys.count(UID, REGION) == 1
    with store.write() as uow:
        uow.keys.purge(kid(1))
    with store.read() as uow:
        assert uow.keys.count(UID, REGION) == 0


def test_a_write_by_another_worker_is_visible_to_the_next_read(store: SqlStore) -> None:
    """Another process on the same database (a second worker): what it commits, this store reads
    at once, even the rows this store has just read (the SQLite reader remembers results)."""
    other = open_store(store.engine.url.render_as_string(hide_password=False), Path("unused"), run_migrations=False)
    try:
        add_keys(store, make_key(1))
        for _ in range(2):  # read twice: the second read is answered from memory on SQLite
            with store.read() as uow:
                found = uow.keys.get(UID, REGION, kid(1))
                assert found is not None
                assert found.description == make_key(1).description
        with other.write() as uow:
            uow.keys.save(replace(make_key(1), description="changed elsewhere"))
        with store.read() as uow:
            found = uow.keys.get(UID, REGION, kid(1))
            assert found is not None
            assert found.description == "changed elsewhere"
        with other.write() as uow:
            uow.keys.purge(kid(1))
        with store.read() as uow:
            assert uow.keys.get(UID, REGION, kid(1)) is None
    finally:
        other.dispose()
