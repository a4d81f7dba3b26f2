"""What the scope locks cost: write latency on PostgreSQL (and SQLite) with and without them.

Every write unit of work locks the (account, region) scope it touches (storage/sql/scopes.py). This
benchmark runs the same service calls on two runtimes over one database, one with the lock and
one with it switched off (``scope_lock = None``: the code before the lock, which lost writes),
interleaved round by round so both see the same machine load:

* sequential latency (one thread) of CreateKey (Aliyun_AES_256), DisableKey/EnableKey,
  CreateKeyVersion (EC_P256, the clock moved past the spacing each time) and Encrypt (a read:
  it takes no lock and must not change);
* DisableKey/EnableKey from ``--threads`` threads at once, on keys of one account (they queue on
  one scope lock) and of one account per thread (they do not).

Figures are the median over ``--rounds`` rounds of each round's p50 / p99 in milliseconds, and
the ratio locked / unlocked of the medians.

    python benchmarks/write_latency.py [--postgres URL] [--rounds 3] [--calls 200] [--threads 4]

Without ``--postgres`` a throwaway server is started with scripts/pg-start (Debian's postgresql).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from openkms import bootstrap
from openkms.domain.identity import Caller
from openkms.domain.rotation import DAY
from openkms.service.container import Services
from openkms.service.keys import CreateKeyRequest
from openkms.settings import Settings
from openkms.system import ManualClock

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A schema of its own in the given database (dropped afterwards), so runs never meet."""
    schema = f"openkms_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        with fresh_schema(url) as schema_url:
            yield schema_url
        return
    with tempfile.TemporaryDirectory(prefix="openkms-bench-pg-") as tmp:
        out = subprocess.run([ROOT / "scripts" / "pg-start", tmp], capture_output=True, text=True, check=True)
        env = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
        try:
            yield env["OPENKMS_TEST_POSTGRES_URL"]
        finally:
            stop = env["OPENKMS_TEST_POSTGRES_STOP"].strip("'")
            as_postgres = ["su", "postgres", "-s", "/bin/sh", "-c", stop] if os.getuid() == 0 else ["sh", "-c", stop]
            subprocess.run(as_postgres, capture_output=True, check=False)


@contextmanager
def runtimes(database_url: str | None, data_dir: Path) -> Iterator[tuple[Services, Services, ManualClock]]:
    cfg = Settings.load(
        env={}, data_dir=data_dir, database_url=database_url, rsa_pool_size=0, auto_softhsm=False,
        keys_per_region=1_000_000,
    )  # fmt: skip
    bootstrap.prepare(cfg)
    clock = ManualClock()
    locked, unlocked = bootstrap.build(cfg, clock=clock), bootstrap.build(cfg, clock=clock)
    unlocked.store.scope_lock = None  # type: ignore[misc]  # the code before the locks
    try:
        yield locked.services, unlocked.services, clock
    finally:
        locked.close()
        unlocked.close()


def new_caller(services: Services) -> Caller:
    issued = services.identity.create_access_key(new_account=True)
    return Caller(issued.access_key.account_uid, "cn-hangzhou", issued.access_key.id)


def timed(call: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1e3)
    return samples


def p50_p99(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def sequential(s: Services, clock: ManualClock, n: int) -> dict[str, list[float]]:
    me = new_caller(s)
    aes = s.keys.create_key(me, CreateKeyRequest())
    ec = s.keys.create_key(me, CreateKeyRequest(spec="EC_P256"))
    flip = iter(range(10**9))

    def toggle() -> None:
        (s.keys.disable_key if next(flip) % 2 == 0 else s.keys.enable_key)(me, aes.id)

    def new_version() -> None:
        clock.advance(8 * DAY)
        s.versions.create_key_version(me, ec.id)

    return {
        "CreateKey": timed(lambda: s.keys.create_key(me, CreateKeyRequest()), n),
        "DisableKey/EnableKey": timed(toggle, n - n % 2),  # ends Enabled, for Encrypt
        "CreateKeyVersion": timed(new_version, min(n, 45)),  # a key has at most 50 versions
        "Encrypt": timed(lambda: s.crypto.encrypt(me, aes.id, b"x" * 32, {}), n),
    }


def concurrent_toggles(s: Services, threads: int, n: int, one_account: bool) -> list[float]:
    shared = new_caller(s)
    callers = [shared if one_account else new_caller(s) for _ in range(threads)]
    key_ids = [s.keys.create_key(c, CreateKeyRequest()).id for c in callers]
    samples: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def work(i: int) -> None:
        barrier.wait()
        mine = []
        for j in range(n):
            began = time.perf_counter()
            (s.keys.disable_key if j % 2 == 0 else s.keys.enable_key)(callers[i], key_ids[i])
            mine.append((time.perf_counter() - began) * 1e3)
        with lock:
            samples.extend(mine)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return samples


def run(store_name: str, database_url: str | None, args: argparse.Namespace) -> None:
    rows: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp, runtimes(database_url, Path(tmp) / "data") as (locked, unlocked, clock):
        for n in range(args.rounds):
            order = [("locked", locked), ("unlocked", unlocked)]
            for label, services in order if n % 2 == 0 else order[::-1]:  # neither always runs first
                results = sequential(services, clock, args.calls)
                for scope in (True, False):
                    name = f"{args.threads} threads, {'one account' if scope else 'one account each'}"
                    results[f"DisableKey/EnableKey, {name}"] = concurrent_toggles(
                        services, args.threads, args.calls // args.threads, scope
                    )
                for op, samples in results.items():
                    rows.setdefault(op, {}).setdefault(label, []).append(p50_p99(samples))

    print(f"\n{store_name}: median of {args.rounds} rounds, ms")
    print(f"{'operation':<52}{'locked p50':>11}{'p99':>8}{'before p50':>12}{'p99':>8}{'ratio p50':>11}")
    for op, by_label in rows.items():
        lp50 = statistics.median(r[0] for r in by_label["locked"])
        lp99 = statistics.median(r[1] for r in by_label["locked"])
        up50 = statistics.median(r[0] for r in by_label["unlocked"])
        up99 = statistics.median(r[1] for r in by_label["unlocked"])
        print(f"{op:<52}{lp50:>11.2f}{lp99:>8.2f}{up50:>12.2f}{up99:>8.2f}{lp50 / up50:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a SQLAlchemy URL of an empty PostgreSQL database")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--sqlite", action="store_true", help="also run on embedded SQLite (it takes no lock)")
    args = parser.parse_args()
    with postgres(args.postgres) as url:
        run("PostgreSQL", url, args)
    if args.sqlite:
        run("SQLite", None, args)


if __name__ == "__main__":
    main()
