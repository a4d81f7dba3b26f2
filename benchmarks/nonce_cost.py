"""What replay protection costs an Encrypt, on each store: the server's CPU per request with the
nonce claimed (``openkms serve``) against the same build with every nonce accepted unrecorded
(``nonce_free_app.py``, the baseline), on one data directory (SQLite) and on one PostgreSQL
database. On PostgreSQL the database server's CPU (every process of its cluster: the backends, the
WAL writer) is counted as server CPU too: the claim is mostly the database's work.

The nonce's share of Encrypt's server CPU is (with - without) / with. Servers take turns within
each round, in an order that alternates, so machine load hurts all alike. wrk drives pre-signed V1
requests at concurrency 16.

    OPENKMS_TEST_POSTGRES_URL=postgresql+psycopg://... \\
        python benchmarks/nonce_cost.py [--workers 1] [--seconds 10] [--rounds 3]

The PostgreSQL server must run on this machine (its processes' CPU is read from /proc).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import harness
from sqlalchemy import create_engine, make_url, text

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()
# Above any rate one worker reaches here (requests are signed beforehand, RATE_CEILING x seconds x 1.5).
RATE_CEILING = 3000
CASES = ("sqlite claimed", "sqlite unrecorded", "postgres claimed", "postgres unrecorded")


@dataclass
class Measured:
    server: harness.Server
    postmaster: int | None  # the database server's, whose processes' CPU counts too

    def cpu(self) -> float:
        own = self.server.cpu_seconds()
        if self.postmaster is None:
            return own
        return own + sum(harness._proc_cpu(pid) for pid in harness._tree(self.postmaster))


def postgres_url(where: str = " on this machine") -> str:
    """OPENKMS_TEST_POSTGRES_URL, or the benchmark stops saying it is needed."""
    url = os.environ.get("OPENKMS_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit(f"set OPENKMS_TEST_POSTGRES_URL to a PostgreSQL server{where}")
    return url


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[tuple[str, int]]:
    """A fresh schema (the URL that uses it) and the PostgreSQL server's postmaster pid."""
    schema = f"openkms_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        data_dir = conn.execute(text("SHOW data_directory")).scalar_one()
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    try:
        yield (
            make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False),
            postmaster,
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def pair(workers: int, database_url: str | None) -> Iterator[tuple[harness.Server, harness.Server]]:
    """``openkms serve`` and the nonce-free build on the same data (the same directory or database)."""
    with tempfile.TemporaryDirectory(prefix="openkms-bench-") as data_dir:
        env = {
            "OPENKMS_ADMIN_ACCESS_KEY_ID": harness.AK_ID,
            "OPENKMS_ADMIN_ACCESS_KEY_SECRET": harness.AK_SECRET,
            "OPENKMS_ROOT_KEY": base64.b64encode(os.urandom(32)).decode(),
            "OPENKMS_DATA_DIR": data_dir,
            "OPENKMS_WORKERS": str(workers),
            "OPENKMS_AUDIT_MODE": "off",
            **({"OPENKMS_DATABASE_URL": database_url} if database_url else {}),
        }
        port, tls_port, free_port = harness.free_port(), harness.free_port(), harness.free_port()
        argv = [sys.executable, "-m", "openkms.cli.main", "serve", "--port", str(port), "--workers", str(workers)]
        argv += ["--tls-port", str(tls_port), "--data-dir", data_dir]
        with harness.serve("openkms", argv, port, "/healthz", env) as claimed:
            baseline = harness.uvicorn_argv("nonce_free_app:create", free_port, workers, factory=True)
            with harness.serve("nonce-free", baseline, free_port, "/healthz", env) as unrecorded:
                yield claimed, unrecorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pg_url = postgres_url()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)
    cpu: dict[str, list[float]] = {case: [] for case in CASES}
    rps: dict[str, list[float]] = {case: [] for case in CASES}
    with contextlib.ExitStack() as stack:
        url, postmaster = stack.enter_context(postgres_schema(pg_url))
        sqlite = stack.enter_context(pair(args.workers, None))
        postgres = stack.enter_context(pair(args.workers, url))
        servers = {
            CASES[0]: Measured(sqlite[0], None),
            CASES[1]: Measured(sqlite[1], None),
            CASES[2]: Measured(postgres[0], postmaster),
            CASES[3]: Measured(postgres[1], postmaster),
        }
        lines = {}
        for case, measured in servers.items():
            key_id = str(harness.call(measured.server.url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]
            lines[case] = partial(harness.v1_line, "Encrypt", {"KeyId": key_id, "Plaintext": PLAINTEXT})
            harness.drive(measured.server, "warm-up", lines[case], 16, 2, RATE_CEILING)
        for round_no in range(1, args.rounds + 1):
            for case in CASES if round_no % 2 else CASES[::-1]:
                measured = servers[case]
                before = measured.cpu()
                r = harness.drive(measured.server, case, lines[case], 16, args.seconds, RATE_CEILING)
                if r.failed:
                    raise SystemExit(f"{case}: {r.failed} requests failed")
                cpu[case].append(1e6 * (measured.cpu() - before) / r.requests)
                rps[case].append(r.rps)
                print(f"  round {round_no} {case:20} {r.rps:8.0f} req/s  {cpu[case][-1]:5.0f} us CPU/req", flush=True)
    report(args, cpu, rps)


def report(args: argparse.Namespace, cpu: dict[str, list[float]], rps: dict[str, list[float]]) -> None:
    print(f"\nEncrypt, {args.workers} worker(s), median of {args.rounds} rounds of {args.seconds:.0f} s")
    print(f"{'case':20} {'req/s':>8} {'CPU us/req':>11}")
    for case in CASES:
        print(f"{case:20} {statistics.median(rps[case]):>8.0f} {statistics.median(cpu[case]):>11.0f}")
    print(f"\n{'store':10} {'nonce us/req':>13} {'share of Encrypt CPU':>21}  per round")
    for store in ("sqlite", "postgres"):
        with_, without = cpu[f"{store} claimed"], cpu[f"{store} unrecorded"]
        shares = [(w - o) / w for w, o in zip(with_, without, strict=True)]
        cost = statistics.median(w - o for w, o in zip(with_, without, strict=True))
        rounds = ", ".join(f"{s:.2f}" for s in shares)
        print(f"{store:10} {cost:>13.0f} {statistics.median(shares):>21.2f}  {rounds}")
    pg, lite = statistics.median(cpu["postgres claimed"]), statistics.median(cpu["sqlite claimed"])
    print(f"\nEncrypt CPU/req, PostgreSQL (openkms + database server) vs SQLite: {pg / lite:.2f}x")


if __name__ == "__main__":
    main()
