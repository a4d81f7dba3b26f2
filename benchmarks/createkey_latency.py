"""CreateKey latency for RSA keys with the pre-generated key-pair pool and without it.

RSA key generation takes tens of milliseconds (2048 bits) to hundreds (3072 bits); openkms keeps a
small pool of pairs per RSA spec in each worker, refilled by one background thread per worker
(``[crypto] rsa_pool_size`` / ``OPENKMS_RSA_POOL_SIZE``, default 2; 0 starts no thread, and every
RSA CreateKey generates its pair in the request). For each setting (the default pool, and
``OPENKMS_RSA_POOL_SIZE=0``) and each of RSA_2048 and RSA_3072, one server (one worker) and three
patterns of signed CreateKey calls, timed at the client:

* ``spaced``: one call every ``--spacing`` seconds, time for the pool to refill in between (a
  user creating keys by hand, a test suite's set-up);
* ``burst N``: ``--small-burst`` calls back to back (default 2, what the pool holds), then, once
  the pool has refilled, ``--burst`` calls back to back (default 10, more than it holds: the pool
  runs dry and the rest wait for a generation, shared with the refill thread);
* Aliyun_AES_256 and EC_P256, which need no pool, the same way, as the floor.

Then the refill rate: how long one RSA generation takes in a thread of this process (what the
refill thread does), i.e. the rate of CreateKey a worker sustains without draining its pool.

Every figure is the median over ``--rounds`` rounds of that round's p50 / p99 / max.

    python benchmarks/createkey_latency.py [--rounds 3] [--spaced 10] [--spacing 1.0] [--burst 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections import defaultdict

import harness

from openkms.crypto import asymmetric

RSA_SPECS = ("RSA_2048", "RSA_3072")
FLOOR_SPECS = ("EC_P256", "Aliyun_AES_256")
POOL_SETTINGS = (("pool 2", {}), ("pool off", {"OPENKMS_RSA_POOL_SIZE": "0"}))
FILL_WAIT = 6.0  # seconds after start: the pool generates 2 x RSA_2048 and 2 x RSA_3072 first


def timed_create(url: str, spec: str) -> float:
    usage = "ENCRYPT/DECRYPT" if spec == "Aliyun_AES_256" else "SIGN/VERIFY"
    began = time.perf_counter()
    harness.call(url, "CreateKey", KeySpec=spec, KeyUsage=usage)
    return (time.perf_counter() - began) * 1e3


def stats(samples: list[float]) -> tuple[float, float, float]:
    """p50, p99 (nearest rank) and max of one round's samples, in ms."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def patterns(url: str, spec: str, args: argparse.Namespace) -> dict[str, list[float]]:
    time.sleep(FILL_WAIT)
    spaced = []
    for _ in range(args.spaced):
        spaced.append(timed_create(url, spec))
        time.sleep(args.spacing)
    small = [timed_create(url, spec) for _ in range(args.small_burst)]
    time.sleep(FILL_WAIT)
    large = [timed_create(url, spec) for _ in range(args.burst)]
    return {"spaced": spaced, f"burst {args.small_burst}": small, f"burst {args.burst}": large}


def generation_ms(spec: str, count: int) -> float:
    """Median milliseconds of one key-pair generation in a thread, as the pool's refill runs."""
    times: list[float] = []

    def run() -> None:
        for _ in range(count):
            began = time.perf_counter()
            asymmetric.generate(spec)
            times.append((time.perf_counter() - began) * 1e3)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spaced", type=int, default=10, help="calls in the spaced pattern")
    parser.add_argument("--spacing", type=float, default=1.0, help="seconds between spaced calls")
    parser.add_argument("--small-burst", type=int, default=2, help="a burst the pool can serve (its size)")
    parser.add_argument("--burst", type=int, default=10, help="a burst larger than the pool")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; one worker", flush=True)

    # (setting, spec, pattern) -> one (p50, p99, max) per round
    figures: dict[tuple[str, str, str], list[tuple[float, float, float]]] = defaultdict(list)
    calls: dict[tuple[str, str, str], int] = {}
    refill: dict[str, list[float]] = defaultdict(list)
    runs = [(name, env, spec) for name, env in POOL_SETTINGS for spec in RSA_SPECS]
    runs += [("no pool needed", {}, spec) for spec in FLOOR_SPECS]
    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}", flush=True)
        for name, env, spec in runs:
            with harness.openkms(1, env) as server:
                measured = patterns(server.url, spec, args)
            for pattern, samples in measured.items():
                figures[(name, spec, pattern)].append(stats(samples))
                calls[(name, spec, pattern)] = len(samples)
            big = " ".join(f"{ms:.0f}" for ms in measured[f"burst {args.burst}"])
            print(f"  {name:14} {spec:15} burst {args.burst} call by call (ms): {big}", flush=True)
        for spec in RSA_SPECS:
            refill[spec].append(generation_ms(spec, 10 if spec == "RSA_2048" else 5))

    print(f"\nCreateKey latency at the client, one worker; median of {args.rounds} rounds")
    print(f"{'setting':14} {'spec':15} {'pattern':9} {'calls':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for (name, spec, pattern), rows in figures.items():
        p50, p99, top = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"{name:14} {spec:15} {pattern:9} {calls[(name, spec, pattern)]:>5} {p50:8.1f} {p99:8.1f} {top:8.1f}")
    print("\npool refill (one generation at a time in a background thread, per worker)")
    for spec in RSA_SPECS:
        ms = statistics.median(refill[spec])
        rate = 1e3 / ms
        print(f"{spec:15} {ms:8.1f} ms per pair = {rate:6.1f} pairs/s, the CreateKey rate one worker's pool refills at")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
