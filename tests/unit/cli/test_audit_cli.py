"""``openkms audit``: verify (exit 0 intact, 1 naming the first problem), public-key, hash; and the
runtime that bootstrap builds writes a trail those commands read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openkms import bootstrap
from openkms.audit import files
from openkms.cli.main import main
from openkms.settings import Settings
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
