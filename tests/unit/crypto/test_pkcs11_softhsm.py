"""SoftHSM2 out of the box: a token of its own inside the data directory, PINs sealed, never in clear.

SoftHSM2 reads its configuration once per process, so every fresh data directory is set up in a
subprocess (a real `openkms serve` would be one such process).
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import openkms
from openkms.crypto import softhsm
from openkms.crypto.pkcs11 import Pkcs11Backend
from openkms.crypto.sealing import AesGcmSealer, new_root_key
from openkms.domain import errors
from tests.hsm_support import requires_softhsm, shared_token

pytestmark = requires_softhsm

SRC = str(Path(openkms.__file__).resolve().parents[1])
SCRIPT = r"""
import base64, json, logging, sys
from pathlib import Path
logging.basicConfig(level=logging.DEBUG)
from openkms.crypto import softhsm
from openkms.crypto.pkcs11 import Pkcs11Backend
from openkms.crypto.sealing import AesGcmSealer
from openkms.domain.keys import KeyVersion
from openkms.domain.specs import SPECS
data, root, step = Path(sys.argv[1]), base64.b64decode(sys.argv[2]), sys.argv[3]
spec = SPECS["Aliyun_AES_256"]
try:
    config = softhsm.ensure_token(data, AesGcmSealer(root))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
    raise SystemExit(0)
backend = Pkcs11Backend(config)
out = {"pin": config.pin, "label": config.token_label, "conf": config.softhsm2_conf,
       "again": softhsm.ensure_token(data, AesGcmSealer(root)).pin == config.pin}
version_id = "00000000-0000-4000-8000-000000000001"
if step == "create":
    version = KeyVersion(version_id, "k", 0, backend.create_symmetric(spec, version_id))
    out["ref"] = version.material_ref.decode()
    out["blob"] = [base64.b64encode(part).decode() for part in backend.encrypt(spec, version, b"aad", b"kept")]
elif step == "use":
    ref, blob = sys.argv[4].encode(), [base64.b64decode(part) for part in json.loads(sys.argv[5])]
    out["plaintext"] = backend.decrypt(spec, KeyVersion(version_id, "k", 0, ref), b"aad", *blob).decode()
backend.close()
print(json.dumps(out))
"""


def run(data: Path, root: bytes, step: str, *extra: str) -> tuple[dict[str, object], str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("SOFTHSM2_CONF", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data), base64.b64encode(root).decode(), step, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_creates_a_private_token_and_a_restart_finds_its_keys(tmp_path: Path) -> None:
    data, root = tmp_path / "data", new_root_key()
    first, log1 = run(data, root, "create")
    home = data / "softhsm"
    pin = str(first["pin"])
    assert first["label"] == "openkms"
    assert first["again"] is True
    assert first["conf"] == str(home / "softhsm2.conf")
    conf = (home / "softhsm2.conf").read_text()
    assert f"directories.tokendir = {home / 'tokens'}\n" in conf
    assert "objectstore.backend = file\n" in conf
    assert (mode(home), mode(home / "tokens"), mode(home / "pin.sealed"), mode(home / "softhsm2.conf")) == (
        0o700,
        0o700,
        0o600,
        0o600,
    )
    assert any((home / "tokens").iterdir())
    # The PINs are sealed under the root key, bound to the token label, and nowhere in clear.
    pins = json.loads(AesGcmSealer(root).unseal((home / "pin.sealed").read_bytes(), b"softhsm2-token-pins:openkms"))
    assert pins["user"] == pin
    assert pins["so"] != pin
    assert len(pin) >= 24
    with pytest.raises(errors.IntegrityError):
        AesGcmSealer(new_root_key()).unseal((home / "pin.sealed").read_bytes(), b"softhsm2-token-pins:openkms")
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert pin.encode() not in content, path
            assert pins["so"].encode() not in content, path
    assert pin not in log1
    assert pins["so"] not in log1

    second, log2 = run(data, root, "use", str(first["ref"]), json.dumps(first["blob"]))
    assert second["pin"] == pin
    assert second["plaintext"] == "kept"
    assert pin not in log2

    # The wrong root key cannot open the data directory's token.
    third, _ = run(data, new_root_key(), "open")
    assert third["error"] == "IntegrityError"


def test_an_interrupted_first_start_finishes_with_the_pins_it_sealed(tmp_path: Path) -> None:
    data, root = tmp_path / "data", new_root_key()
    home = data / "softhsm"
    home.mkdir(parents=True)
    pins = {"user": "pending-user-pin-0123456789", "so": "pending-so-pin-0123456789"}
    sealed = AesGcmSealer(root).seal(json.dumps(pins).encode(), b"softhsm2-token-pins:openkms")
    (home / "pin.sealed.new").write_bytes(sealed)
    out, _ = run(data, root, "open")
    assert out["pin"] == pins["user"]
    assert (home / "pin.sealed").exists()
    assert not (home / "pin.sealed.new").exists()


def test_a_token_without_its_sealed_pin_is_reported(tmp_path: Path) -> None:
    data, root = tmp_path / "data", new_root_key()
    run(data, root, "open")
    (data / "softhsm" / "pin.sealed").unlink()
    out, _ = run(data, root, "open")
    assert out["error"] == "BackendUnavailable"
    assert "sealed PIN" in str(out["message"])


def test_without_softhsm2_the_reason_says_how_to_enable_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(softhsm, "MODULE_CANDIDATES", ("/nonexistent/libsofthsm2.so",))
    monkeypatch.setenv("PATH", str(tmp_path))  # no dpkg to ask either
    ok, reason = softhsm.available()
    assert not ok
    assert "install the softhsm2 package" in reason
    assert "PKCS#11 key store" in reason
    with pytest.raises(errors.UnsupportedProtectionLevel, match="install the softhsm2 package"):
        softhsm.ensure_token(tmp_path / "data", AesGcmSealer(new_root_key()))


def test_the_module_is_found_where_debian_installs_it() -> None:
    ok, module = softhsm.available()
    assert ok
    assert module.endswith("libsofthsm2.so")
    assert os.path.isfile(module)
    assert softhsm.find_module(candidates=()) is not None  # found through dpkg -L


@pytest.fixture
def open_backend() -> Iterator[Pkcs11Backend]:
    backend = Pkcs11Backend(shared_token())
    yield backend
    backend.close()


def test_one_softhsm2_directory_per_process(open_backend: Pkcs11Backend, tmp_path: Path) -> None:
    with pytest.raises(errors.BackendUnavailable, match="one SoftHSM2 token directory"):
        softhsm.ensure_token(tmp_path / "data", AesGcmSealer(new_root_key()))
    assert len(open_backend.random_bytes(4)) == 4  # the token in use keeps serving
