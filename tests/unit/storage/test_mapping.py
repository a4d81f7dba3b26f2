"""Mappers derived from the domain dataclasses (storage/sql/mapping.py): every field has its column,
each value comes back as the type the dataclass declares, whatever the driver hands out."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from openkms.domain.identity import AccessKey, AccessKeyStatus
from openkms.domain.keys import Key
from openkms.domain.specs import KeyUsage, Origin, ProtectionLevel
from openkms.domain.states import KeyState
from openkms.domain.tags import Tag
from openkms.storage import schema
from openkms.storage.sql.aliases import ALIAS
from openkms.storage.sql.identity import ACCESS_KEY, ACCOUNT
from openkms.storage.sql.keys import KEY
from openkms.storage.sql.logon import FAILURES, SESSION
from openkms.storage.sql.mapping import Convert, Mapper
from openkms.storage.sql.ram import ATTACHMENT, POLICY, USER
from openkms.storage.sql.ram import VERSION as POLICY_VERSION
from openkms.storage.sql.secrets import SECRET
from openkms.storage.sql.secrets import VERSION as SECRET_VERSION
from openkms.storage.sql.tags import TAG
from openkms.storage.sql.tokens import TOKEN
from openkms.storage.sql.versions import VERSION

KEY_ROW = (
    "k1", "1000000000000001", "cn-hangzhou", "Aliyun_AES_256", "ENCRYPT/DECRYPT", "EXTERNAL", "HSM", "PendingDeletion",
    100, "1000000000000001", "d", "v1", 101, 1, 86_400, 200, 300, 0, "", None, "kst-1", memoryview(b"\x00\xff"),
)  # fmt: skip


def test_every_column_of_each_table_is_a_field_of_its_dataclass() -> None:
    """A column without a field would be written as NULL and never read: every mapper covers its
    table, less the columns a repository supplies itself (a tag's key id)."""
    supplied = {"tags": {"key_id"}}
    for mapper in (KEY, VERSION, ALIAS, TAG, TOKEN, ACCOUNT, ACCESS_KEY, USER, POLICY, POLICY_VERSION, ATTACHMENT,
                   SESSION, FAILURES, SECRET, SECRET_VERSION):  # fmt: skip
        table = mapper.columns[0].table
        assert isinstance(table, Table)
        mapped = {c.name for c in mapper.columns}
        assert mapped == {c.name for c in table.columns} - supplied.get(table.name, set()), table.name


def test_a_row_becomes_the_types_the_dataclass_declares() -> None:
    key = KEY.from_row(KEY_ROW)
    assert key.usage is KeyUsage.ENCRYPT_DECRYPT
    assert key.origin is Origin.EXTERNAL
    assert key.protection_level is ProtectionLevel.HSM
    assert key.state is KeyState.PENDING_DELETION
    assert key.rotation_enabled is True
    assert key.deletion_protection is False
    assert type(key.material_fingerprint) is bytes
    assert key.material_fingerprint == b"\x00\xff"
    assert key.policy is None


def test_none_stays_none_in_an_optional_field() -> None:
    key = KEY.from_row((*KEY_ROW[:-1], None))
    assert key.material_fingerprint is None
    assert KEY.to_params(key)["material_fingerprint"] is None


def test_an_object_becomes_parameters_named_after_its_columns() -> None:
    key = KEY.from_row(KEY_ROW)
    params = KEY.to_params(key)
    assert list(params) == [c.name for c in schema.keys.columns]
    assert params["state"] == "PendingDeletion"
    assert type(params["state"]) is str
    assert KEY.from_row(tuple(params.values())) == key


def test_renamed_columns() -> None:
    assert [c.name for c in TAG.columns] == ["tag_key", "tag_value"]
    assert TAG.to_params(Tag("env", "prod")) == {"tag_key": "env", "tag_value": "prod"}
    assert TAG.from_row(("env", "prod", "a key id after the tag's columns")) == Tag("env", "prod")


def test_values_are_bind_parameters_of_the_columns() -> None:
    values = ACCESS_KEY.values("id", "created_at")
    assert list(values) == ["account_uid", "sealed_secret", "status", "description", "user_name"]
    assert all(v.key == name for name, v in values.items())


def test_an_access_key_round_trip() -> None:
    ak = AccessKey("LTAI1", "1000000000000001", b"sealed", AccessKeyStatus.DISABLED, 5, "d")
    row = tuple(ACCESS_KEY.to_params(ak).values())
    assert row[3] == "Disabled"
    assert ACCESS_KEY.from_row(row) == ak


@dataclasses.dataclass(frozen=True, slots=True)
class Document:
    id: str
    body: dict[str, Any]
    revision: int = 0
    state: KeyState | None = None


DOCUMENTS = Table(
    "documents",
    MetaData(),
    Column("id", String, primary_key=True),
    Column("body", Text),
    Column("revision", Integer),
    Column("state", String),
)


def test_a_converter_declared_for_a_field() -> None:
    mapper = Mapper(Document, DOCUMENTS, convert={"body": Convert(to_row=json.dumps, from_row=json.loads)})
    doc = Document("d1", {"a": [1, 2]}, 3)
    assert mapper.to_params(doc) == {"id": "d1", "body": '{"a": [1, 2]}', "revision": 3, "state": None}
    assert mapper.from_row(("d1", '{"a": [1, 2]}', 3, None)) == doc


def test_an_optional_enum() -> None:
    mapper = Mapper(Document, DOCUMENTS, convert={"body": Convert()})  # Convert(): stored as it is
    doc = Document("d1", {}, 0, KeyState.DISABLED)
    assert mapper.to_params(doc)["state"] == "Disabled"
    assert mapper.from_row(("d1", {}, 0, "Disabled")) == doc
    assert mapper.from_row(("d1", {}, 0, None)).state is None


def test_an_attribute_must_be_a_name() -> None:
    with pytest.raises(ValueError, match="not an attribute name"):
        Convert(attribute="value; import os")


@dataclasses.dataclass(frozen=True)
class KeywordOnly:
    id: str
    revision: int = dataclasses.field(default=0, kw_only=True)


def test_fields_must_be_positional() -> None:
    with pytest.raises(TypeError, match="positional"):
        Mapper(KeywordOnly, DOCUMENTS)


def test_a_field_without_a_column_is_refused() -> None:
    with pytest.raises(KeyError, match="key_versions has no column for account_uid, region, spec"):
        Mapper(Key, schema.key_versions)


def test_a_secret_row_keeps_its_tags_and_a_version_its_stages() -> None:
    from openkms.domain.secrets import DataType, Secret, SecretType, SecretVersion

    secret = Secret("1", "cn-hangzhou", "db", SecretType.RDS, "d", "k", True, '{"a":1}', 1, 2,
                    tags=(Tag("team", "a"),))  # fmt: skip
    assert SECRET.from_row(list(SECRET.to_params(secret).values())) == secret
    version = SecretVersion("1", "cn-hangzhou", "db", "v1", 1, DataType.BINARY, ("ACSCurrent", "x"), b"k", b"v")
    assert SECRET_VERSION.from_row(list(SECRET_VERSION.to_params(version).values())) == version
