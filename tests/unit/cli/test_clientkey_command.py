"""``openkms clientkey create``: the console's clientKey_<id>.json and a password file, for an
access point made through the services as the API makes it."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from openkms.cli import admin
from openkms.domain.app_access import KEY_USER
from openkms.domain.instances import DEFAULT_INSTANCE
from openkms.service.app_access import PolicyFields
from tests.unit.cli.commands import Cli


def _access_point(cli: Cli, name: str) -> None:
    with cli.services() as s:
        caller = admin.root_caller(s, None)
        s.app_access.create_policy(caller, f"{name}-p", DEFAULT_INSTANCE, PolicyFields("", (KEY_USER,), ("key/*",)))
        s.app_access.create_access_point(caller, name, "ClientKey", (f"{name}-p",), "")


def test_create_writes_the_key_file_and_its_password_file(cli: Cli, tmp_path: Path) -> None:
    _access_point(cli, "billing")
    out = cli.ok("clientkey", "create", "--aap", "billing", "--out", str(tmp_path)).out.splitlines()
    key_id, key_file, password_file = out[0], Path(out[1]), Path(out[2])
    assert key_id.startswith("KAAP.")
    assert (key_file.name, password_file.name) == (f"clientKey_{key_id}.json", f"clientKey_{key_id}_Password.txt")
    for path in (key_file, password_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(key_file.read_text())
    assert set(document) == {"KeyId", "PrivateKeyData"}
    assert document["KeyId"] == key_id
    password = password_file.read_text().encode()
    assert len(password) == 32
    private, _, _ = pkcs12.load_key_and_certificates(base64.b64decode(document["PrivateKeyData"]), password)
    assert private is not None
    with cli.services() as s:
        stored = s.app_access.get_client_key(admin.root_caller(s, None), key_id)
    assert stored.aap_name == "billing"
    assert stored.public_key == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_an_unknown_access_point_and_a_missing_directory_are_refused(cli: Cli, tmp_path: Path) -> None:
    line = cli.refused("clientkey", "create", "--aap", "nope", "--out", str(tmp_path))
    assert line == "openkms: nope: The specified application access point is not found.\n"
    assert list(tmp_path.iterdir()) == []
    result = cli("clientkey", "create", "--aap", "nope", "--out", str(tmp_path / "absent"))
    assert (result.code, result.err) == (2, f"openkms: --out {tmp_path / 'absent'}: not a directory\n")
