"""Several writer processes at once: each takes a chain of its own in one directory (no lock
between them per event), and every chain verifies afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from openkms.audit.keys import AuditKeys
from openkms.audit.verify import verify

WRITERS = 4
EVENTS = 300

_WRITER = """
import sys, time
from pathlib import Path
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openkms.audit.keys import AuditKeys
from openkms.audit.trail import AuditConfig, open_trail
from openkms.system import SystemClock
from tests.unit.audit.conftest import event

directory, key_hex = Path(sys.argv[1]), sys.argv[2]
n, events, writers = (int(arg) for arg in sys.argv[3:6])
keys = AuditKeys(Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key_hex)), b"h" * 32)
config = AuditConfig(directory / "audit", node="n", checkpoint_events=25, segment_bytes=20_000, mode="fail-closed")
trail = open_trail(config, keys, SystemClock())
trail.record(event(n * 100_000))
(directory / f"ready-{n}").write_text(trail.chain_id)  # every writer holds its chain from here on
while len(list(directory.glob("ready-*"))) < writers:
    time.sleep(0.01)
for i in range(1, events):
    trail.record(event(n * 100_000 + i))
trail.close()
"""


def test_writers_in_parallel_processes_each_keep_a_chain(tmp_path: Path, keys: AuditKeys) -> None:
    raw = keys.signing.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    root = Path(__file__).resolve().parents[3]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), raw.hex(), str(n), str(EVENTS), str(WRITERS)], cwd=root
        )
        for n in range(WRITERS)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * WRITERS
    chains = sorted((tmp_path / f"ready-{n}").read_text() for n in range(WRITERS))
    assert chains == [f"n-{n}" for n in range(WRITERS)]
    report = verify(tmp_path / "audit", keys.public)
    assert report.ok, report.problem
    assert [(c.chain, c.events, c.unsealed) for c in report.chains] == [(c, EVENTS, 0) for c in chains]
