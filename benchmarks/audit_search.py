"""How long a search of a large audit trail takes (``openkms audit search``, LookupEvents): a trail
of ``--events`` events (200,000 by default) spread over 30 days, written through the trail as a
server writes it (two writer chains, each event to one at random, ``--segment-mib`` segments),
then searched in-process.

The queries: the newest page; the newest page of one key among 50; a key used 10 times in the
whole trail (every line is looked at, few are parsed); one hour in the middle (segments outside
it skipped); the 100th page reached by cursors; LookupEvents' default (an account and region, 7
days, 20 events) for one action.

    python benchmarks/audit_search.py [--events 200000] [--segment-mib 64] [--dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openkms.audit import files
from openkms.audit.keys import AuditKeys
from openkms.audit.reader import TrailReader
from openkms.audit.trail import AuditConfig, open_trail
from openkms.domain.audit import KEY_RESOURCE, KMS_SOURCE, AuditEvent, EventRW, EventType, UserIdentity, event_time
from openkms.domain.audit_query import AuditPage, AuditQuery
from openkms.system import SystemClock

SPAN = 30 * 86_400
ACTIONS = ("Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey", "ListKeys", "CreateKey")


def _event(n: int, total: int, end: float) -> AuditEvent:
    key = "key-rare" if n % (total // 10) == 7 else f"key-{n % 50:04d}"
    name = ACTIONS[n % len(ACTIONS)]
    return AuditEvent(
        event_id=f"9b3c6f0e-5d1a-4c57-8f7e-{n:012d}",
        event_name=name,
        event_source=KMS_SOURCE,
        event_type=EventType.API_CALL,
        event_rw=EventRW.WRITE if name == "CreateKey" else EventRW.READ,
        event_time=event_time(end - SPAN + n * SPAN / total),
        acs_region="cn-hangzhou" if n % 4 else "cn-shanghai",
        request_id=f"2f1c4a6e-0b7d-4e3a-9c55-{n:012d}",
        api_version="2016-01-20",
        user_identity=UserIdentity("ram-user", "27601234", "1234567890123456", f"LTAI5tExampleKey{n % 10:04d}", "app"),
        source_ip_address="192.0.2.10",
        user_agent="AlibabaCloud (Linux; x86_64) Python/3.11 Core/0.4.6 TeaDSL/1",
        request_parameters={"KeyId": key, "EncryptionContext": {"tenant": "hmac-sha256:" + "ab" * 32}},
        response_elements={"KeyId": key, "KeyVersionId": "7c2f5ad3-59a1-4f1e-9a1b-0c9f1b6e2d11"},
        recipient_account_id="1234567890123456",
        service_name="Kms",
        referenced_resources={KEY_RESOURCE: (key,)},
    )


def _write(directory: Path, events: int, segment_bytes: int, end: float) -> None:
    keys = AuditKeys(Ed25519PrivateKey.generate(), b"h" * 32)
    config = AuditConfig(directory, node="bench", segment_bytes=segment_bytes)
    trails = [open_trail(config, keys, SystemClock()) for _ in range(2)]
    chooser = random.Random(7)  # which worker served each request
    for n in range(events):
        trails[chooser.randrange(2)].record(_event(n, events, end))
    for trail in trails:
        trail.close()


def _timed(what: str, run: Callable[[], tuple[int, str]], repeat: int = 3) -> None:
    best, found = float("inf"), (0, "")
    for _ in range(repeat):
        started = time.perf_counter()
        found = run()
        best = min(best, time.perf_counter() - started)
    print(f"{what:<58} {best * 1000:9.1f} ms  ({found[0]} events{found[1]})")


def _pages(reader: TrailReader, query: AuditQuery, pages: int) -> tuple[int, str]:
    page = AuditPage(())
    for _ in range(pages):
        page = reader.search(query)
        query = replace(query, cursor=page.cursor)
    return len(page.events), f", page {pages}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--segment-mib", type=float, default=64)
    parser.add_argument("--dir", type=Path, help="where to write the trail (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="leave the trail on disk")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="audit-search-bench-"))
    end = float(int(time.time()))
    try:
        started = time.perf_counter()
        _write(root / "audit", args.events, int(args.segment_mib * 1024 * 1024), end)
        segments = [p for chain in files.chains(root / "audit") for _, p in files.segments(chain)]
        size = sum(p.stat().st_size for p in segments)
        print(
            f"wrote {args.events} events, {len(segments)} segments, {size / 1e6:.0f} MB "
            f"in {time.perf_counter() - started:.1f} s"
        )
        reader = TrailReader(root / "audit")
        middle = end - SPAN / 2

        def one(query: AuditQuery) -> Callable[[], tuple[int, str]]:
            return lambda: (len(reader.search(query).events), "")

        _timed("newest 20, no filter", one(AuditQuery()))
        _timed("newest 20 of one key (1 in 50)", one(AuditQuery(resource="key-0007")))
        _timed("a key used 10 times, whole trail", one(AuditQuery(resource="key-rare", limit=0)))
        hour = AuditQuery(since=event_time(middle), until=event_time(middle + 3600), limit=0)
        _timed("one hour in the middle, all its events", one(hour))
        _timed("page 100 of 20, by cursors", lambda: _pages(reader, AuditQuery(), 100), repeat=1)
        lookup = AuditQuery(
            since=event_time(end - 7 * 86_400), until=event_time(end), event_names=("Decrypt",),
            account_id="1234567890123456", region="cn-hangzhou",
        )  # fmt: skip
        _timed("LookupEvents default window, EventName=Decrypt, 20", one(lookup))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")


if __name__ == "__main__":
    main()
