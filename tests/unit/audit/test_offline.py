"""README's offline check, run as written with the system's openssl and coreutils: the signature
verifies, the segment hashes to what the checkpoint says, the checkpoints chain; and each of the
three fails on a tampered trail."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from openkms.audit import files
from tests.unit.audit.conftest import TrailFactory, write

README = Path(__file__).resolve().parents[3] / "README.md"
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def _block() -> str:
    text = README.read_text()
    m = re.search(r"<!-- audit-offline: begin -->\n```sh\n(.*?)```\n<!-- audit-offline: end -->", text, re.S)
    assert m is not None, "README.md lost its audit-offline block"
    return m.group(1)


def _run(chain: Path, checkpoint: int) -> subprocess.CompletedProcess[str]:
    script = _block()
    script = re.sub(r"^cd \S+", f"cd '{chain}'", script, count=1, flags=re.M)
    script = re.sub(r"^CP=\S+", f"CP=checkpoints/{files.checkpoint_name(checkpoint)}", script, count=1, flags=re.M)
    script = re.sub(r"^PREV=\S+", f"PREV=checkpoints/{checkpoint - 1:012d}.sig", script, count=1, flags=re.M)
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)


@pytest.fixture
def chain(make_trail: TrailFactory, tmp_path: Path) -> Path:
    trail = make_trail(checkpoint_events=10)
    write(trail, 45)
    trail.close()
    return tmp_path / "audit" / "n-0"


def _pairs(out: str) -> list[str]:
    return out.splitlines()[1:]


def test_the_readme_steps_check_a_checkpoint(chain: Path) -> None:
    done = _run(chain, 3)
    assert done.returncode == 0, done.stderr
    first, says, holds, previous, signed = done.stdout.splitlines()
    assert first == "Signature Verified Successfully"
    assert says == holds
    assert len(says) == 64
    assert previous == signed
    assert len(previous) == 128


def test_a_sealed_segment_is_plain_sha256sum(make_trail: TrailFactory, tmp_path: Path) -> None:
    trail = make_trail(checkpoint_events=1000, segment_bytes=3000)
    write(trail, 12)
    trail.close()
    chain = tmp_path / "audit" / "n-0"
    cp = (chain / "checkpoints" / files.checkpoint_name(0)).read_text()
    assert '"sealed":true' in cp
    name = re.search(r'"name":"([^"]+)"', cp).group(1)  # type: ignore[union-attr]
    done = subprocess.run(["sha256sum", name], cwd=chain, capture_output=True, text=True, check=True)
    digest = done.stdout.split()[0]
    assert f'"sha256":"{digest}"' in cp


def test_they_fail_on_a_tampered_trail(chain: Path) -> None:
    segment = files.segments(chain)[0][1]
    segment.write_bytes(segment.read_bytes().replace(b"event-3", b"event-9", 1))
    _, says, holds, *_ = _run(chain, 3).stdout.splitlines()
    assert says != holds

    checkpoint = chain / "checkpoints" / files.checkpoint_name(3)
    checkpoint.write_bytes(checkpoint.read_bytes().replace(b'"treeSize":40', b'"treeSize":41'))
    done = _run(chain, 3)
    assert "Signature Verified Successfully" not in done.stdout
    assert "Signature Verification Failure" in done.stdout + done.stderr
