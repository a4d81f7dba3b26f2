"""Seed files as their users meet them: a dev server started from examples/seed/seed.toml, reset back
to it, exported and loaded again (the same keys, aliases, tags, states and secrets, and the
ciphertexts made before the export still decrypt), and each refusal: a bad file at start (its file,
line and reason, exit 2, nothing loaded), a seed or an export outside dev mode, a non-administrator."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from openkms import bootstrap, seedfile
from openkms.cli.main import main
from openkms.cli.remote import ControlClient, RemoteError
from openkms.seedfile import SeedFileError, writer
from openkms.settings import Settings, SettingsError
from openkms.testing import OpenKms
from tests.e2e.clients import Kms
from tests.e2e.expect import expect_error
from tests.servers import clean_env, inprocess_server, run_openkms

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed" / "seed.toml"
SEEDED_KEYS = {
    "key-envelope-0001", "key-derived-0001", "key-disabled-0001", "key-retiring-0001", "key-signing-0001",
}  # fmt: skip
OTHER_ACCOUNT = ("LTAI5tSeedOtherAccount01", "seed-secret-of-another-account-01")


def sdk(kit: OpenKms, region: str = "cn-hangzhou", pair: tuple[str, str] | None = None) -> Kms:
    ak, secret = pair or (kit.access_key_id, kit.access_key_secret)
    return Kms("new-v3", kit.endpoint, ak, secret, region)


@pytest.fixture(scope="module")
def seeded_server() -> Iterator[OpenKms]:
    with OpenKms(seed=EXAMPLE) as kit:
        yield kit


@pytest.fixture
def seeded(seeded_server: OpenKms) -> OpenKms:
    seeded_server.reset()
    return seeded_server


def key_ids(kms: Kms) -> set[str]:
    return {k["KeyId"] for k in kms.call("ListKeys", PageSize=100)["Keys"]["Key"]}


def state_of(kms: Kms) -> dict[str, Any]:
    """What a seed declares, as the API shows it."""
    keys = {}
    for key_id in sorted(key_ids(kms)):
        meta = kms.call("DescribeKey", KeyId=key_id)["KeyMetadata"]
        tags = kms.call("ListResourceTags", KeyId=key_id)["Tags"]["Tag"]
        versions = kms.call("ListKeyVersions", KeyId=key_id)["KeyVersions"]["KeyVersion"]
        keys[key_id] = {
            **{f: meta.get(f) for f in ("KeySpec", "KeyUsage", "KeyState", "DeleteDate", "Description",
                                        "AutomaticRotation", "RotationInterval", "PrimaryKeyVersion",
                                        "ProtectionLevel", "CreationDate")},
            "Tags": sorted((t["TagKey"], t["TagValue"]) for t in tags),
            "Versions": sorted(v["KeyVersionId"] for v in versions),
        }  # fmt: skip
    aliases = sorted((a["AliasName"], a["KeyId"]) for a in kms.call("ListAliases", PageSize=100)["Aliases"]["Alias"])
    secrets = {}
    for entry in kms.call("ListSecrets", PageSize=100)["SecretList"]["Secret"]:
        name = entry["SecretName"]
        ids = kms.call("ListSecretVersionIds", SecretName=name, IncludeDeprecated="true")["VersionIds"]["VersionId"]
        secrets[name] = {
            v["VersionId"]: (
                sorted(v["VersionStages"]["VersionStage"]),
                kms.call("GetSecretValue", SecretName=name, VersionId=v["VersionId"])["SecretData"],
            )
            for v in ids
        }
    return {"keys": keys, "aliases": aliases, "secrets": secrets}


def test_the_server_starts_with_the_seeds_data(seeded: OpenKms) -> None:
    kms = sdk(seeded)
    assert key_ids(kms) == SEEDED_KEYS
    envelope = kms.call("DescribeKey", KeyId="alias/app-data")["KeyMetadata"]
    assert (envelope["KeyId"], envelope["KeyState"], envelope["RotationInterval"]) == (
        "key-envelope-0001", "Enabled", "2592000s",
    )  # fmt: skip
    assert envelope["PrimaryKeyVersion"] == "0b0e2f1c-6a55-4a8e-9d3f-5f1a2b3c4d02"
    assert kms.call("DescribeKey", KeyId="key-disabled-0001")["KeyMetadata"]["KeyState"] == "Disabled"
    retiring = kms.call("DescribeKey", KeyId="key-retiring-0001")["KeyMetadata"]
    assert (retiring["KeyState"], retiring["DeleteDate"]) == ("PendingDeletion", "2031-01-01T00:00:00Z")
    tags = kms.call("ListResourceTags", KeyId="key-envelope-0001")["Tags"]["Tag"]
    assert sorted((t["TagKey"], t["TagValue"]) for t in tags) == [("env", "test"), ("team", "payments")]
    current = kms.call("GetSecretValue", SecretName="app/database")
    assert (current["VersionId"], current["SecretData"]) == (
        "v2",
        '{"user": "app", "password": "correct horse battery staple"}',
    )
    previous = kms.call("GetSecretValue", SecretName="app/database", VersionStage="ACSPrevious")
    assert previous["SecretData"] == "old-password"
    # The other account's pair and key, in its region.
    other = sdk(seeded, "cn-shanghai", OTHER_ACCOUNT)
    assert key_ids(other) == {"key-other-account-0001"}
    # The RAM user's pair is a real pair of a user without policies: signed, then denied.
    app_user = sdk(seeded, pair=("LTAI5tSeedAppUser000001", "seed-secret-of-the-app-user-0001"))
    expect_error(403, "Forbidden.RAM", app_user, "ListKeys")


def test_given_material_is_the_keys_material(seeded: OpenKms) -> None:
    kms = sdk(seeded)
    digest = hashlib.sha256(b"signed by a seeded key").digest()
    signature = kms.call(
        "AsymmetricSign", KeyId="alias/signing", KeyVersionId="7d1c2b3a-0000-4000-8000-000000000001",
        Algorithm="ECDSA_SHA_256", Digest=base64.b64encode(digest).decode(),
    )["Value"]  # fmt: skip
    der = seedfile.load(EXAMPLE).keys[4].versions[0].material
    assert der is not None
    public = serialization.load_der_private_key(der, None).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(base64.b64decode(signature), b"signed by a seeded key", ec.ECDSA(hashes.SHA256()))


def test_reset_goes_back_to_the_seed_or_to_empty(seeded: OpenKms) -> None:
    kms = sdk(seeded)
    before = state_of(kms)
    kms.call("CreateKey", Description="made by the test")
    kms.call("PutSecretValue", SecretName="app/database", VersionId="v3", SecretData="new")
    kms.call("DisableKey", KeyId="key-derived-0001")
    kms.call("DeleteAlias", AliasName="alias/derived")
    seeded.clock.advance(days=400)  # past the rotation interval and the retiring key's window
    assert state_of(kms) != before
    seeded.reset()
    assert state_of(kms) == before
    seeded.reset(to="empty")
    assert key_ids(kms) == set()
    seeded.reset(to="seed")
    assert state_of(kms) == before


def test_export_then_load_gives_the_same_data_and_the_ciphertexts_decrypt(seeded: OpenKms, tmp_path: Path) -> None:
    kms = sdk(seeded)
    made = kms.call("CreateKey", Description="made after the seed", EnableAutomaticRotation=True, RotationInterval="8d")
    new_id = made["KeyMetadata"]["KeyId"]
    kms.call("CreateAlias", AliasName="alias/made", KeyId=new_id)
    kms.call("TagResource", KeyId=new_id, Tags='[{"TagKey": "made", "TagValue": "yes"}]')
    kms.call("CreateSecret", SecretName="made/secret", SecretData="v-one", VersionId="one",
             EncryptionKeyId="key-derived-0001")  # fmt: skip
    kms.call("PutSecretValue", SecretName="made/secret", SecretData="v-two", VersionId="two")
    rsa_key = kms.call("CreateKey", KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT")["KeyMetadata"]["KeyId"]
    blobs = {
        ref: kms.call("Encrypt", KeyId=ref, Plaintext=f"secret under {ref}")["CiphertextBlob"]
        for ref in ("alias/app-data", "key-derived-0001", new_id)
    }
    rsa_version = kms.call("ListKeyVersions", KeyId=rsa_key)["KeyVersions"]["KeyVersion"][0]["KeyVersionId"]
    public_pem = kms.call("GetPublicKey", KeyId=rsa_key, KeyVersionId=rsa_version)["PublicKey"]
    before = state_of(kms)
    exported = seeded.export_seed()
    path = tmp_path / "exported.toml"
    path.write_text(writer.dumps(exported))
    with OpenKms(seed=path) as again:
        other = sdk(again)
        assert state_of(other) == before
        for ref, blob in blobs.items():
            assert other.call("Decrypt", CiphertextBlob=blob)["Plaintext"] == f"secret under {ref}"
        assert other.call("GetPublicKey", KeyId=rsa_key, KeyVersionId=rsa_version)["PublicKey"] == public_pem
        assert again.export_seed() == exported  # and its export is the same file


def test_a_bad_seed_stops_serve_with_its_file_line_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n\n[[keys]]\nid = "key-1"\nspec = "AES_999"\n')
    done = run_openkms("serve", "--dev", "--seed", str(bad), "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"openkms: configuration error: seed file {bad}:5: keys/0/spec: 'AES_999' is not one")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # told before anything was made


def test_what_the_server_cannot_hold_is_told_at_its_line_and_nothing_is_loaded(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace('region = "cn-shanghai"', 'region = "mars-north-1"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    line = text.splitlines().index('region = "mars-north-1"') + 1
    settings = Settings.load(env={}, dev=True, data_dir=tmp_path / "data", seed_file=bad)
    with pytest.raises(SeedFileError) as err:
        bootstrap.prepare(settings)
    assert (err.value.line, err.value.reason) == (
        line,
        "keys/5/region: The specified region 'mars-north-1' does not exist in this openkms catalogue.",
    )
    runtime = bootstrap.build(Settings.load(env={}, dev=True, data_dir=tmp_path / "data"))
    try:
        with runtime.store.read() as uow:
            assert [a.uid for a in uow.accounts.list_all()] == [runtime.services.identity.account()]
            assert uow.keys.list_in_region(runtime.services.identity.account(), "cn-hangzhou") == []
    finally:
        runtime.close()


def test_seeds_and_determinism_are_for_dev_mode_only(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"\[testing\] seed_file \(--seed\) is for dev mode only"):
        Settings.load(env={}, seed_file=EXAMPLE)
    with pytest.raises(SettingsError, match=r"\[testing\] deterministic \(--deterministic\) is for dev mode only"):
        Settings.load(env={"OPENKMS_TESTING_DETERMINISTIC": "x"})
    done = run_openkms("serve", "--seed", str(EXAMPLE), "--data-dir", str(tmp_path / "data"))
    assert (done.returncode, done.stderr) == (
        2, "openkms: configuration error: [testing] seed_file (--seed) is for dev mode only (openkms serve --dev)\n",
    )  # fmt: skip


def test_export_is_refused_outside_dev_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with inprocess_server(tmp_path / "data", control_api=True) as srv:
        admin = ControlClient(srv.endpoint, srv.access_key_id, srv.secret)
        with pytest.raises(RemoteError) as err:
            admin.call("GET", "/seed")
        assert (err.value.status, err.value.code, err.value.message) == (
            403, "Forbidden.NotDevMode",
            "Seed export is for dev mode only (openkms serve --dev): it writes key material in clear.",
        )  # fmt: skip
        credentials = tmp_path / "admin.json"
        credentials.write_text(f'{{"AccessKeyId": "{srv.access_key_id}", "AccessKeySecret": "{srv.secret}"}}')
        out = tmp_path / "never.toml"
        code = main(
            ["seed", "export", "--endpoint", srv.endpoint, "--credentials", str(credentials), "--out", str(out)]
        )
        assert code == 1
        assert capsys.readouterr().err == (
            "openkms seed export: Forbidden.NotDevMode (HTTP 403): Seed export is for dev mode only "
            "(openkms serve --dev): it writes key material in clear.\n"
        )
        assert not out.exists()


def test_export_is_refused_to_a_non_administrator(seeded: OpenKms) -> None:
    other = ControlClient(seeded.endpoint, *OTHER_ACCOUNT)
    with pytest.raises(RemoteError) as err:
        other.call("GET", "/seed")
    assert (err.value.status, err.value.code, err.value.message) == (
        403, "Forbidden.NotAdministrator", "The control API accepts only the administrator's own AccessKey.",
    )  # fmt: skip


def test_reset_to_a_seed_the_server_does_not_have_is_refused() -> None:
    with OpenKms() as kit:
        with pytest.raises(RemoteError) as err:
            kit.reset(to="seed")
        assert (err.value.status, err.value.code, err.value.message) == (
            400, "InvalidControl",
            "The control request is not valid: the server was started without a seed (--seed FILE).",
        )  # fmt: skip
        with pytest.raises(RemoteError) as err:
            kit.reset(to="yesterday")
        assert err.value.message == 'The control request is not valid: To must be "seed" or "empty".'


def test_the_cli_writes_the_export_readable_by_its_owner_only(
    seeded: OpenKms, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exported.toml"
    assert main(["seed", "export", "--endpoint", seeded.endpoint, "--out", str(out)]) == 0
    assert capsys.readouterr().err == f"openkms seed export: wrote {out}\n"
    assert out.stat().st_mode & 0o777 == 0o600
    assert {k.id for k in seedfile.load(out).keys} == SEEDED_KEYS | {"key-other-account-0001"}


def test_the_plugin_starts_from_the_ini_files_seed_and_resets_to_it(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "seed.toml")
    (tmp_path / "pytest.ini").write_text("[pytest]\nopenkms_seed = seed.toml\n")
    (tmp_path / "test_seeded.py").write_text(
        "from alibabacloud_kms20160120 import models\n\n"
        "def ids(client):\n"
        "    return {k.key_id for k in client.list_keys(models.ListKeysRequest(page_size=100)).body.keys.key}\n\n"
        "def test_one(openkms_client):\n"
        "    assert 'key-envelope-0001' in ids(openkms_client)\n"
        "    openkms_client.create_key(models.CreateKeyRequest())\n"
        "    assert len(ids(openkms_client)) == 6\n\n"
        "def test_two(openkms_client):\n"
        "    assert len(ids(openkms_client)) == 5\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, env=clean_env(), timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_the_cli_resets_to_empty_or_to_the_seed(seeded: OpenKms, capsys: pytest.CaptureFixture[str]) -> None:
    kms = sdk(seeded)
    assert main(["dev", "--endpoint", seeded.endpoint, "reset", "--to", "empty"]) == 0
    assert key_ids(kms) == set()
    assert main(["dev", "--endpoint", seeded.endpoint, "reset"]) == 0
    assert key_ids(kms) == SEEDED_KEYS
    assert '"To": "seed"' in capsys.readouterr().out


def test_a_server_process_loads_the_seed_too() -> None:
    with OpenKms(mode="process", seed=EXAMPLE) as kit:
        kms = sdk(kit)
        assert key_ids(kms) == SEEDED_KEYS
        kms.call("DeleteAlias", AliasName="alias/app-data")
        kit.reset()
        assert kms.call("DescribeKey", KeyId="alias/app-data")["KeyMetadata"]["KeyId"] == "key-envelope-0001"
