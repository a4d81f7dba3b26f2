"""What a nonce claim on PostgreSQL costs the worker, in one process: the request's greenlet on the
event loop (openkms/offload.py) and the loop's batched claims (storage/pg_claims.py), taken apart.

Concurrent tasks on one event loop each repeat one case as fast as they can; the table gives the
process's CPU per call (user + system: the socket's system calls count), the median of the rounds,
and each case over the baseline, the bare batched claim (no greenlet), measured in the same run:

- ``sleep(0)``: a coroutine that yields once, the loop's own cost per wake-up;
- ``greenlet``: a synchronous function run by ``in_greenlet``, which switches to it and back;
- ``greenlet + await_only``: the same function waiting once on the loop through ``await_only``;
- ``batched claim``: ``ClaimBatcher.claim`` awaited directly, the baseline;
- ``greenlet + claim``: ``PostgresNonceCache.claim`` called from a handler's greenlet, as a
  request makes it on PostgreSQL.

The database server's CPU is not counted here (``cluster_encrypt.py`` counts it, over HTTP).

    OPENKMS_TEST_POSTGRES_URL=postgresql+psycopg://... \\
        python benchmarks/claim_path.py [--concurrency 16] [--seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from nonce_cost import postgres_schema, postgres_url

from openkms.offload import await_only, in_greenlet
from openkms.storage.factory import open_store
from openkms.storage.pg_nonces import PostgresNonceCache

WINDOW = 1800.0
BASELINE = "batched claim"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_call(
    loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[object]], tasks: int, seconds: float
) -> float:
    """Microseconds of this process's CPU per call, with ``tasks`` callers at once for ``seconds``."""

    async def caller(stop: float) -> int:
        done = 0
        while time.monotonic() < stop:
            await call()
            done += 1
        return done

    async def run() -> int:
        stop = time.monotonic() + seconds
        return sum(await asyncio.gather(*(caller(stop) for _ in range(tasks))))

    before = _cpu()
    calls = loop.run_until_complete(run())
    return 1e6 * (_cpu() - before) / calls


def cases(nonces: PostgresNonceCache) -> dict[str, Callable[[], Awaitable[object]]]:
    def plain() -> int:
        return 1

    def waits_once() -> None:
        await_only(asyncio.sleep(0))

    def claim() -> bool:
        return nonces.claim(uuid.uuid4().hex, time.time())

    async def sleep0() -> None:
        await asyncio.sleep(0)

    async def greenlet_plain() -> int:
        return await in_greenlet(plain)

    async def greenlet_waits() -> None:
        await in_greenlet(waits_once)

    async def batched() -> object:
        return await nonces._batched(uuid.uuid4().hex, time.time())

    async def greenlet_claim() -> bool:
        return await in_greenlet(claim)

    return {
        "sleep(0)": sleep0,
        "greenlet": greenlet_plain,
        "greenlet + await_only": greenlet_waits,
        BASELINE: batched,
        "greenlet + claim": greenlet_claim,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16, help="callers at once on the loop")
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pg_url = postgres_url(where="")  # its CPU is not read here: any server will do
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.concurrency} callers at once")
    measured: dict[str, list[float]] = {}
    with postgres_schema(pg_url) as (url, _postmaster), tempfile.TemporaryDirectory() as scratch:
        store = open_store(url, Path(scratch) / "unused.db")  # migrates the fresh schema
        nonces = PostgresNonceCache.from_url(url, window=WINDOW)
        loop = asyncio.new_event_loop()
        try:
            table = cases(nonces)
            for call in table.values():  # warm-up: connections, prepared statements, parked greenlets
                per_call(loop, call, args.concurrency, 0.3)
            for _ in range(args.rounds):
                for name, call in table.items():
                    measured.setdefault(name, []).append(per_call(loop, call, args.concurrency, args.seconds))
        finally:
            nonces.close()
            loop.close()
            store.close()
    base = statistics.median(measured[BASELINE])
    print(f"\nworker CPU per call, median of {args.rounds} x {args.seconds:.0f} s")
    print(f"{'case':24} {'us/call':>8} {'/ batched claim':>16}  rounds")
    for name, values in measured.items():
        middle = statistics.median(values)
        rounds = ", ".join(f"{v:.1f}" for v in values)
        print(f"{name:24} {middle:>8.1f} {middle / base:>16.2f}  {rounds}")


if __name__ == "__main__":
    main()
