"""``openkms audit``: verify (exit 0 intact, 1 naming the first problem), public-key, hash; and the
runtime that bootstrap builds writes a trail those commands read."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openkms import bootstrap
from openkms.audit import files
from openkms.audit.keys import AuditKeys
from openkms.audit.trail import AuditConfig, open_trail
from openkms.cli import audit as audit_cli
from openkms.cli.main import main
from openkms.domain.audit import KEY_RESOURCE, UserIdentity, event_time
from openkms.settings import Settings
from openkms.system import SystemClock
from tests.unit.audit.conftest import event


@pytest.fixture(autouse=True)
def no_openkms_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OPENKMS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data directory whose runtime recorded five events and closed (sealing them)."""
    data = tmp_path / "data"
    runtime = bootstrap.build(Settings.load(data_dir=data, rsa_pool_size=0))
    for n in range(5):
        runtime.audit.record(event(n))
    runtime.close()
    return data


def _segment(data_dir: Path) -> Path:
    (chain,) = files.chains(data_dir / "audit")
    return files.segments(chain)[0][1]


def test_verify_an_intact_trail(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "lines 0-4, 1 checkpoints, 0 unsealed" in out
    assert "intact: 1 chains" in out


def test_verify_names_the_first_bad_line(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    segment = _segment(data_dir)
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(lines[0] + lines[2] + lines[1] + b"".join(lines[3:]))
    assert main(["audit", "verify", "--data-dir", str(data_dir)]) == 1
    assert f"NOT intact: {segment}:2: seq 2 where 1 should follow" in capsys.readouterr().err


def test_verify_a_bare_directory(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(data_dir / "audit")]) == 0
    assert "from the trail itself" in capsys.readouterr().err
    other = tmp_path / "other.pem"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert main(["audit", "verify", str(data_dir / "audit"), "--public-key", str(other)]) == 1
    assert "signature does not verify" in capsys.readouterr().err
    assert main(["audit", "verify", str(data_dir / "audit"), "--data-dir", str(data_dir)]) == 2


def test_verify_without_a_trail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(tmp_path / "none")]) == 1
    assert "no audit trail" in capsys.readouterr().err


def test_public_key_and_hash(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "public-key", "--data-dir", str(data_dir)]) == 0
    pem = capsys.readouterr().out
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert pem.encode() == (data_dir / "audit" / files.PUBLIC_KEY_FILE).read_bytes()
    assert main(["audit", "hash", "--data-dir", str(data_dir), "QUJD"]) == 0
    keys = bootstrap.audit_keys(Settings.load(data_dir=data_dir))
    assert capsys.readouterr().out.strip() == keys.keyed_hash(b"QUJD")
    assert keys.keyed_hash(b"QUJD").startswith("hmac-sha256:")


def test_a_runtime_that_records_nothing_leaves_no_chain(tmp_path: Path) -> None:
    runtime = bootstrap.build(Settings.load(data_dir=tmp_path / "d", rsa_pool_size=0))
    runtime.close()
    assert files.chains(tmp_path / "d" / "audit") == []


# --- search -------------------------------------------------------------------------------------


@pytest.fixture
def trail_dir(tmp_path: Path) -> Path:
    """A bare trail of six events, an hour apart, the newest one hour ago (search reads no key)."""
    directory = tmp_path / "trail"
    now = time.time()
    trail = open_trail(AuditConfig(directory, node="n"), AuditKeys(Ed25519PrivateKey.generate(), b"h" * 32),
                       SystemClock())  # fmt: skip
    for n in range(6):
        when = event_time(now - (6 - n) * 3600)
        fields: dict[str, Any] = {"event_time": when}
        if n == 2:
            fields |= {"event_name": "Decrypt", "error_code": "Forbidden.RAM",
                       "user_identity": UserIdentity("ram-user", "2001", "1234", "LTAIalice", "alice")}  # fmt: skip
        if n == 4:
            fields |= {
                "referenced_resources": {KEY_RESOURCE: ("key-9",)},
                "request_parameters": {"KeyId": "key-9", "CiphertextBlob": "hmac-sha256:" + "ab" * 32},
            }
        trail.record(replace(event(n), **fields))
    trail.close()
    return directory


def _search(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["audit", "search", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_search_prints_a_table_newest_first(trail_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _search(capsys, str(trail_dir), "--limit", "3")
    assert (code, err) == (0, "")
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["time", "action", "who", "accessKey", "sourceIp", "key", "result"]
    assert [r[1] for r in rows[1:]] == ["Encrypt", "Encrypt", "Encrypt"]
    assert rows[2][5] == "key-9"  # the fifth event, second newest
    assert rows[1][2:5] == ["root-account:1234", "LTAIexample", "192.0.2.1"]
    assert rows[1][6] == "ok"


def test_search_filters(trail_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def ids(*args: str) -> list[str]:
        code, out, err = _search(capsys, str(trail_dir), "--json", "--limit", "0", *args)
        assert (code, err) == (0, "")
        return [json.loads(line)["eventId"] for line in out.splitlines()]

    assert ids() == [f"event-{n}" for n in range(5, -1, -1)]
    assert ids("--key", "key-9") == ["event-4"]
    assert ids("--key", "key-1") == [f"event-{n}" for n in (5, 3, 2, 1, 0)]  # by the KeyId parameter
    assert ids("--action", "Decrypt") == ids("--failed") == ids("--user", "alice") == ["event-2"]
    assert ids("--action", "Decrypt", "--action", "Encrypt", "--access-key", "LTAIalice") == ["event-2"]
    assert ids("--succeeded", "--since", "150m") == ["event-5", "event-4"]
    assert ids("--since", "330m", "--until", "150m") == ["event-3", "event-2", "event-1"]
    assert ids("--since", "330m", "--oldest-first", "--limit", "2") == ["event-1", "event-2"]
    assert ids("--account", "1234", "--region", "cn-hangzhou", "--rw", "Write") == ids()
    assert ids("--account", "9999") == []
    assert ids("--value", "hmac-sha256:" + "ab" * 32) == ["event-4"]  # as `openkms audit hash` prints it


def test_search_pages_through_a_large_result(
    trail_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_cli, "_BATCH", 2)
    code, out, _ = _search(capsys, str(trail_dir), "--json", "--limit", "5")
    assert (code, len(out.splitlines())) == (0, 5)
    code, out, _ = _search(capsys, str(trail_dir), "--limit", "0")
    assert (code, len(out.splitlines())) == (0, 7)


def test_search_by_data_dir(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _search(capsys, "--data-dir", str(data_dir), "--json", "--since", "2027-01-15T08:00:02Z")
    assert code == 0
    assert [json.loads(line)["eventId"] for line in out.splitlines()] == ["event-4", "event-3", "event-2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since: not a time: 'yesterday'"),
        (["--until", "2026-13-01"], "--until: not a time"),
        (["--limit", "-1"], "--limit must be 0 (all) or more"),
        (["--data-dir", "x"], "give a trail directory or --data-dir/--config, not both"),
    ],
)
def test_search_refusals(trail_dir: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = _search(capsys, str(trail_dir), *args)
    assert (code, out) == (2, "")
    assert message in err
