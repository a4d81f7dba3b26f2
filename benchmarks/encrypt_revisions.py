"""Encrypt over HTTP, this tree against another revision's source, in one run.

For a refactor that must not cost CPU: ``openkms serve`` from this tree and from ``--baseline-src``
(the ``src`` directory of another checkout, e.g. a ``git worktree`` at the commit before the
change) take turns within each round, on the same machine and the same venv, driven by wrk with
pre-signed V1 and V3 requests at concurrency 16. Reports the median server CPU per request of each
and the ratio this / baseline (median of the per-round ratios too, which moves least with load).

    git worktree add /tmp/base <commit>
    python benchmarks/encrypt_revisions.py --baseline-src /tmp/base/src [--rounds 5] [--seconds 8]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
from functools import partial

import harness

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-src", required=True, help="the src directory of the revision to compare with")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sides = {"this tree": {}, "baseline": {"PYTHONPATH": os.path.abspath(args.baseline_src)}}
    cpu: dict[tuple[str, str], list[float]] = {(s, v): [] for s in sides for v in ("V1", "V3")}
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)
    for round_no in range(1, args.rounds + 1):
        order = list(sides) if round_no % 2 else list(sides)[::-1]
        for side in order:
            with harness.openkms(args.workers, sides[side]) as server:
                key_id = str(harness.call(server.url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]
                params = {"KeyId": key_id, "Plaintext": PLAINTEXT}
                lines = {
                    "V1": partial(harness.v1_line, "Encrypt", params),
                    "V3": partial(harness.v3_line, "Encrypt", params, f"127.0.0.1:{server.port}"),
                }
                harness.drive(server, "warm-up", lines["V1"], 16, 2, 14000)
                for version, line in lines.items():
                    r = harness.drive(server, f"{side} {version}", line, 16, args.seconds, 14000)
                    if r.failed:
                        raise SystemExit(f"{side} {version}: {r.failed} requests failed")
                    cpu[(side, version)].append(r.cpu_us)
                    print(
                        f"  round {round_no} {side:9} {version} {r.rps:7.0f} req/s {r.cpu_us:5.0f} us CPU/req",
                        flush=True,
                    )
    print(f"\nEncrypt c16, {args.workers} worker(s), {args.rounds} rounds x {args.seconds:g} s")
    print(f"{'signature':10} {'this tree us/req':>17} {'baseline us/req':>16} {'ratio':>6} {'per-round median':>17}")
    for version in ("V1", "V3"):
        mine, base = cpu[("this tree", version)], cpu[("baseline", version)]
        per_round = statistics.median(m / b for m, b in zip(mine, base, strict=True))
        ratio = statistics.median(mine) / statistics.median(base)
        mine_us, base_us = statistics.median(mine), statistics.median(base)
        print(f"{version:10} {mine_us:>17.0f} {base_us:>16.0f} {ratio:>6.2f} {per_round:>17.2f}")


if __name__ == "__main__":
    main()
