"""How long ``openkms audit verify`` takes on a large trail: a chain of ``--events`` events (a
million by default) written through the trail as a server writes it (best-effort, a checkpoint
every 1,000 events, 64 MiB segments), then verified.

The baseline in the same run is ``sha256sum`` over the same segment files: reading and hashing
the bytes once, the floor of any verification. Verify does more per line (the hash chain, the
Merkle leaf and nodes, the line's JSON, the checkpoints' signatures and segment hashes). The
target is under a minute for a million events on the project's 2-core machines.

    python benchmarks/audit_verify.py [--events 1000000] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openkms.audit import files
from openkms.audit.keys import AuditKeys
from openkms.audit.trail import AuditConfig, open_trail
from openkms.audit.verify import verify
from openkms.domain.audit import KMS_SOURCE, AuditEvent, EventRW, EventType, UserIdentity, event_time
from openkms.system import SystemClock


def _event(n: int, now: float) -> AuditEvent:
    return AuditEvent(
        event_id=f"9b3c6f0e-5d1a-4c57-8f7e-{n:012d}",
        event_name="Encrypt",
        event_source=KMS_SOURCE,
        event_type=EventType.API_CALL,
        event_rw=EventRW.WRITE,
        event_time=event_time(now),
        acs_region="cn-hangzhou",
        request_id=f"2f1c4a6e-0b7d-4e3a-9c55-{n:012d}",
        api_version="2016-01-20",
        user_identity=UserIdentity("ram-user", "27601234", "1234567890123456", "LTAI5tExampleKeyId0001", "app"),
        source_ip_address="192.0.2.10",
        user_agent="AlibabaCloud (Linux; x86_64) Python/3.11 Core/0.4.6 TeaDSL/1",
        request_parameters={
            "KeyId": "key-hzz6f0e5d1a4c578f7e0001",
            "EncryptionContext": {"tenant": "hmac-sha256:" + "ab" * 32},
        },
        response_elements={
            "KeyId": "key-hzz6f0e5d1a4c578f7e0001",
            "KeyVersionId": "7c2f5ad3-59a1-4f1e-9a1b-0c9f1b6e2d11",
            "CiphertextBlob": "hmac-sha256:" + "cd" * 32,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, help="where to write the trail (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="leave the trail on disk")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    keys = AuditKeys(Ed25519PrivateKey.generate(), b"h" * 32)
    try:
        trail = open_trail(AuditConfig(root / "audit", node="bench"), keys, SystemClock())
        started = time.perf_counter()
        now = time.time()
        for n in range(args.events):
            trail.record(_event(n, now))
        trail.close()
        wrote = time.perf_counter() - started
        segments = [p for chain in files.chains(root / "audit") for _, p in files.segments(chain)]
        size = sum(p.stat().st_size for p in segments)

        started = time.perf_counter()
        subprocess.run(["sha256sum", *map(str, segments)], check=True, capture_output=True)
        floor = time.perf_counter() - started

        started = time.perf_counter()
        report = verify(root / "audit", keys.public)
        took = time.perf_counter() - started
        assert report.ok, report.problem
        (chain,) = report.chains
        mib = size / 2**20
        print(f"events {chain.events:,}  checkpoints {chain.checkpoints:,}  segments {len(segments)}  {mib:,.0f} MiB")
        print(f"write (record, best-effort)  {wrote:7.1f} s  {wrote / args.events * 1e6:6.1f} us/event")
        print(f"sha256sum of the segments    {floor:7.1f} s")
        per_event = took / args.events * 1e6
        print(f"verify                       {took:7.1f} s  {per_event:6.1f} us/event  ({took / floor:.1f}x sha256sum)")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
