"""Reading seed files: the example in examples/ reads whole, and every refusal names the file, the
line and the reason (TOML errors at their line, schema and rule errors at the line of the value,
else of the table header of the entry that breaks them)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from openkms import seedfile
from openkms.domain.seed import derived_material, version_id
from openkms.seedfile import SeedFileError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "seed" / "seed.toml"
GOOD_KEY = """version = 1

[[keys]]
id = "key-1"
"""


def refusal(tmp_path: Path, text: str) -> SeedFileError:
    path = tmp_path / "seed.toml"
    path.write_text(text)
    with pytest.raises(SeedFileError) as err:
        seedfile.load(path)
    assert str(err.value).startswith(f"seed file {path}:{err.value.line}: ")
    return err.value


def test_the_shipped_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(seedfile.schema())
    assert seedfile.schema()["properties"]["version"] == {"const": 1, "description": "The format's version."}


def test_the_example_reads_whole() -> None:
    seed = seedfile.load(EXAMPLE)
    by_id = {k.id: k for k in seed.keys}
    assert seed.accounts == ("1234567890123456",)
    assert [(u.account, u.name) for u in seed.users] == [("", "app"), ("1234567890123456", "auditor")]
    assert [(p.id, p.user, p.enabled) for p in seed.access_keys][2] == ("LTAI5tSeedAuditor0000001", "auditor", False)
    envelope = by_id["key-envelope-0001"]
    assert envelope.aliases == ("alias/app-data", "alias/app-data-v2")
    assert envelope.tags == (("env", "test"), ("team", "payments"))
    assert envelope.rotation_interval == 30 * 86_400
    assert envelope.versions[0].material == bytes(range(32))
    assert envelope.versions[1].material == bytes(range(33, 65))
    assert by_id["key-retiring-0001"].delete_at == 1_924_992_000  # 2031-01-01T00:00:00Z
    derived = by_id["key-derived-0001"].versions[0]
    assert (derived.id, derived.derive, derived.material) == (version_id("key-derived-0001", 0), True, None)
    assert by_id["key-signing-0001"].versions[0].material is not None  # the PEM's DER
    assert by_id["key-signing-0001"].versions[0].material.startswith(b"\x30")  # type: ignore[union-attr]
    [secret] = seed.secrets
    assert [(v.id, v.stages) for v in secret.versions] == [("v1", ("ACSPrevious",)), ("v2", ("ACSCurrent", "blue"))]


def test_derived_material_depends_on_the_seed_the_key_and_the_version() -> None:
    one = derived_material("s", "key-1", "v", 32)
    assert len(one) == 32
    assert one == derived_material("s", "key-1", "v", 32)
    assert len({one, derived_material("t", "key-1", "v", 32), derived_material("s", "key-2", "v", 32),
                derived_material("s", "key-1", "w", 32)}) == 4  # fmt: skip


def test_a_toml_error_is_told_at_its_line(tmp_path: Path) -> None:
    err = refusal(tmp_path, 'version = 1\n\n[[keys]]\nid = "key-1"\nspec = \n')
    assert (err.line, err.reason) == (5, "not valid TOML: Invalid value")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('version = 2\n', 1, "version: 1 was expected"),
        ('[[keys]]\nid = "k"\n', 1, "'version' is a required property"),
        (GOOD_KEY + 'spec = "AES_999"\n', 5, "keys/0/spec: 'AES_999' is not one of"),
        (GOOD_KEY + 'colour = "red"\n', 5, "keys/0/colour: Additional properties are not allowed ('colour' was"),
        (GOOD_KEY + '\n[[keys]]\nid = "key 2"\n', 7, "keys/1/id: 'key 2' does not match"),
        (GOOD_KEY + 'state = "PendingDeletion"\n', 3, "keys/0: 'delete_at' is a required property"),
        (GOOD_KEY + 'protection_level = "HSM"\n', 5, "keys/0/protection_level: 'SOFTWARE' was expected"),
        (GOOD_KEY + '\n  [[keys.versions]]\n  material_hex = "abc"\n', 7,
         "keys/0/versions/0/material_hex: the value is not of the expected form"),
        (GOOD_KEY + '\n  [[keys.versions]]\n  material_hex = "00"\n', 7,
         "keys/0/versions/0/material_hex: Aliyun_AES_256 material is 32 bytes, not 1"),
        (GOOD_KEY + '\n  [[keys.versions]]\n  derive = true\n  material_hex = "00"\n', 7,
         "keys/0/versions/0/derive: give one of material_hex, material_base64, private_key_pem, derive, not"),
        (GOOD_KEY + '\n  [[keys.versions]]\n  derive = true\n', 7,
         "keys/0/versions/0/derive: derive = true needs material_seed"),
        (GOOD_KEY + 'aliases = ["app"]\n', 5, "keys/0/aliases: An alias is alias/ followed by"),
        (GOOD_KEY + 'tags = { "aliyun:x" = "1" }\n', 5, "keys/0/tags/aliyun:x: A TagKey must not start with"),
        (GOOD_KEY + 'spec = "EC_P256"\nautomatic_rotation = true\n', 6,
         "keys/0/automatic_rotation: automatic rotation is for symmetric keys only"),
        (GOOD_KEY + 'rotation_interval = "3d"\n', 5, "keys/0/rotation_interval: The rotation interval must be from 7"),
        (GOOD_KEY + 'spec = "EC_P256"\nusage = "ENCRYPT/DECRYPT"\n', 6, "keys/0/usage: KeySpec EC_P256 allows only"),
        (GOOD_KEY + 'created_at = "yesterday"\n', 5, "keys/0/created_at: 'yesterday' is not an ISO 8601 time"),
        (GOOD_KEY + '\n[[keys]]\nid = "key-1"\n', 7, "keys/1/id: 'key-1' is declared twice"),
        (GOOD_KEY + 'account = "1111222233334444"\n', 5, "keys/0/account: no account '1111222233334444' in accounts"),
        ('version = 1\n\n[[access_keys]]\nid = "LTAI5tSeedAppUser000001"\nsecret = "s3cret-s3cret-s3"\nuser = "x"\n',
         6, "access_keys/0/user: no user 'x' in that account's users"),
        (GOOD_KEY + '\n[[secrets]]\nname = "db"\nkey = "key-9"\n\n  [[secrets.versions]]\n  id = "v1"\n  value = "x"\n'
         '  stages = ["ACSCurrent"]\n', 8, "secrets/0/key: no key 'key-9' of the same account and region in keys"),
        (GOOD_KEY + '\n[[secrets]]\nname = "db"\nkey = "key-1"\n\n  [[secrets.versions]]\n  id = "v1"\n  value = "x"\n',
         10, "secrets/0/versions: exactly one version must have the stage ACSCurrent"),
    ],
)  # fmt: skip
def test_each_bad_seed_is_told_with_its_line_and_reason(tmp_path: Path, text: str, line: int, reason: str) -> None:
    err = refusal(tmp_path, text)
    assert err.line == line, err
    assert err.reason.startswith(reason), err


def test_a_file_that_cannot_be_read_is_told(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(SeedFileError, match=f"seed file {missing}:1: cannot read it: No such file"):
        seedfile.load(missing)


def test_a_secret_value_never_appears_in_a_refusal(tmp_path: Path) -> None:
    err = refusal(
        tmp_path,
        GOOD_KEY + '\n[[secrets]]\nname = "db"\nkey = "key-1"\n\n  [[secrets.versions]]\n  id = "v1"\n'
        '  value = "hunter2-the-password"\n  stages = ["ACSCurrent"]\n  colour = 1\n',
    )
    assert err.line == 14  # the line of the unknown name
    assert "hunter2" not in str(err)


@pytest.mark.parametrize(
    "entry",
    [
        '[[access_keys]]\nid = "LTAI5tSeedAppUser000001"\nsecret = "hunter2"\n',
        '[[access_keys]]\nid = "LTAI5tSeedAppUser000001"\nsecret = 1234567890123456789\n',
        '[[keys]]\nid = "k"\n  [[keys.versions]]\n  material_hex = "hunter2hunter2"\n',
        '[[keys]]\nid = "k"\n  [[keys.versions]]\n  private_key_pem = "hunter2"\n',
        '[[keys]]\nid = "k"\n  [[keys.versions]]\n  material_base64 = "hun"\n',
        'material_seed = ""\n',
    ],
)
def test_no_refusal_quotes_a_secret_or_material(tmp_path: Path, entry: str) -> None:
    first, _, rest = entry.partition("\n")
    text = f"version = 1\n{first}\n{rest}" if first.startswith("material_seed") else f"version = 1\n\n{entry}"
    err = refusal(tmp_path, text)
    assert "the value " in err.reason
    assert "hunter2" not in str(err)
    assert "hun" not in err.reason.partition(":")[2]
    assert "1234567890123456789" not in str(err)


def test_a_document_from_json_reads_as_a_file_does() -> None:
    document = {"version": 1, "keys": [{"id": "key-1", "tags": {"a": "b"}}]}
    seed = seedfile.from_document(json.loads(json.dumps(document)))
    assert (seed.keys[0].id, seed.keys[0].tags, seed.keys[0].spec) == ("key-1", (("a", "b"),), "Aliyun_AES_256")
