"""What the audit trail costs an Encrypt: three ``openkms serve`` (``--workers``) side by side,
with ``[audit] mode`` off, best-effort (each event written, not fsynced) and fail-closed (each
request admitted first and its event fsynced before the answer, fsyncs shared by concurrent
requests), driven by wrk with pre-signed V1 requests at concurrency 16. The servers take turns
within each round, in an order that alternates, so machine load hurts all alike.

Reports server CPU per request and the ratio to the trail off (the target: within 1.15), and the
throughput, which for fail-closed also pays the disk's fsync latency.

    python benchmarks/audit_cost.py [--workers 1] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
from functools import partial

import harness

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()
MODES = ("off", "best-effort", "fail-closed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    rps: dict[str, list[float]] = {mode: [] for mode in MODES}
    with contextlib.ExitStack() as stack:
        servers = {
            mode: stack.enter_context(harness.openkms(args.workers, config=f'[audit]\nmode = "{mode}"\n'))
            for mode in MODES
        }
        lines = {}
        for mode, server in servers.items():
            key_id = str(harness.call(server.url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]
            lines[mode] = partial(harness.v1_line, "Encrypt", {"KeyId": key_id, "Plaintext": PLAINTEXT})
            harness.drive(server, "warm-up", lines[mode], 16, 2, 14000)
        for round_no in range(1, args.rounds + 1):
            order = list(MODES) if round_no % 2 else list(MODES)[::-1]
            for mode in order:
                r = harness.drive(servers[mode], mode, lines[mode], 16, args.seconds, 14000)
                if r.failed:
                    raise SystemExit(f"{mode}: {r.failed} requests failed")
                cpu[mode].append(r.cpu_us)
                rps[mode].append(r.rps)
                print(f"  round {round_no} {mode:12} {r.rps:8.0f} req/s  {r.cpu_us:5.0f} us CPU/req", flush=True)
    off = statistics.median(cpu["off"])
    print(f"\nEncrypt, {args.workers} worker(s), median of {args.rounds} rounds")
    print(f"{'audit mode':14} {'req/s':>8} {'CPU us/req':>11} {'CPU vs off':>11}  per round")
    for mode in MODES:
        mine = statistics.median(cpu[mode])
        rounds = ", ".join(f"{c / o:.2f}" for c, o in zip(cpu[mode], cpu["off"], strict=True))
        print(f"{mode:14} {statistics.median(rps[mode]):>8.0f} {mine:>11.0f} {mine / off:>11.2f}  {rounds}")


if __name__ == "__main__":
    main()
