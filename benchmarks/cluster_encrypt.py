"""Encrypt on one node with SQLite, one node on PostgreSQL and two nodes on PostgreSQL, in one run.

Issue 15's two targets: the server's CPU per Encrypt on PostgreSQL within 1.3x SQLite's, and two
nodes serving at least 1.6x one node's requests where the cores allow. Each node is an
``openkms serve`` with ``--workers`` workers (default 1: two one-worker nodes need two cores, which
is what a 2-core machine has, load generator and database included). The two PostgreSQL nodes
share one fresh schema and one root key; the one-node PostgreSQL case drives the first of them
alone (the second idles, beating its heart in the lease table).

Server CPU is read from /proc: the openkms processes (supervisor and workers) and, on PostgreSQL,
every process of the database server (the backends, the WAL writer; and those that exited, whose
CPU the postmaster keeps as its children's), since the nonce claim and the reads are the database's
work; both figures are printed, and the database's transactions per request (pg_stat_database's
commits + rollbacks, read after the backends have reported them). wrk drives pre-signed V1 requests at
concurrency 16 in all; with two nodes, two wrk processes at 8 each, one per node (a load balancer's
even spread), their requests added up. Cases take turns within each round, in an order that
alternates, so machine load hurts all alike; each figure is the median of the rounds. Each case
also reports how many of the machine's cores were busy meanwhile (/proc/stat: everything on it),
and the last line what that allowed: one node's case, scaled perfectly, could fill the machine
at most cores / (its cores busy) times over, and two nodes' share of that ceiling is printed.

    OPENKMS_TEST_POSTGRES_URL=postgresql+psycopg://... \\
        python benchmarks/cluster_encrypt.py [--workers 1] [--seconds 10] [--rounds 3]

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
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import harness
from nonce_cost import postgres_schema, postgres_url
from sqlalchemy import Engine, create_engine, text

PLAINTEXT = base64.b64encode(os.urandom(32)).decode()
RATE_CEILING = 3000  # above any one node's rate here: no pre-signed request is sent twice
CONCURRENCY = 16
CASES = ("sqlite, 1 node", "postgres, 1 node", "postgres, 2 nodes")
# A backend reports its counts at most once a second, and within a second of going idle.
STATS_DELAY = 1.5
TRANSACTIONS = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"


@dataclass
class Case:
    nodes: list[harness.Server]
    postmaster: int | None  # the database server's, whose processes' CPU counts too
    lines: list[Callable[[], str]]
    stats: Engine | None = None  # where the database's transactions are counted

    def transactions(self) -> int:
        if self.stats is None:
            return 0
        time.sleep(STATS_DELAY)
        with self.stats.connect() as conn:
            return int(conn.execute(text(TRANSACTIONS)).scalar_one())

    def cpu(self) -> tuple[float, float]:
        """(openkms processes, database server processes) CPU seconds so far."""
        own = sum(node.cpu_seconds() for node in self.nodes)
        if self.postmaster is None:
            return own, 0.0
        live = sum(harness._proc_cpu(pid) for pid in harness._tree(self.postmaster))
        return own, live + reaped_cpu(self.postmaster)


def reaped_cpu(pid: int) -> float:
    """CPU of the process's children that have exited (cutime + cstime): a backend whose
    connection closed takes its CPU out of the live processes' sum, and the postmaster keeps it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / harness.CLK_TCK


@dataclass
class Round:
    rps: float
    own_us: float  # openkms CPU per request
    total_us: float  # openkms + database server CPU per request
    failed: int
    xacts: float  # database transactions per request
    busy: float  # the machine's cores kept busy (everything on it: nodes, wrk, the database)


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine so far, from /proc/stat's first line."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


@contextlib.contextmanager
def node(workers: int, root_key: str, database_url: str | None) -> Iterator[harness.Server]:
    """One ``openkms serve`` on a data directory of its own (and ``database_url``, when given)."""
    with tempfile.TemporaryDirectory(prefix="openkms-bench-") as data_dir:
        env = {
            "OPENKMS_ADMIN_ACCESS_KEY_ID": harness.AK_ID,
            "OPENKMS_ADMIN_ACCESS_KEY_SECRET": harness.AK_SECRET,
            "OPENKMS_ROOT_KEY": root_key,
            "OPENKMS_RSA_POOL_SIZE": "0",
            **({"OPENKMS_DATABASE_URL": database_url} if database_url else {}),
        }
        port, tls_port = harness.free_port(), harness.free_port()
        argv = [sys.executable, "-m", "openkms.cli.main", "serve", "--port", str(port), "--workers", str(workers)]
        argv += ["--tls-port", str(tls_port), "--data-dir", data_dir]
        with harness.serve("openkms", argv, port, "/healthz", env) as server:
            yield server


def encrypt_line(server: harness.Server) -> Callable[[], str]:
    key_id = str(harness.call(server.url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]
    return partial(harness.v1_line, "Encrypt", {"KeyId": key_id, "Plaintext": PLAINTEXT})


def drive(case: Case, label: str, seconds: float) -> Round:
    """wrk on every node of the case at once, CONCURRENCY shared out between them."""
    share = CONCURRENCY // len(case.nodes)
    results: list[harness.Result] = []
    xacts_before = case.transactions()
    before = case.cpu()
    ticks_before = machine_ticks()

    def one(server: harness.Server, line: Callable[[], str]) -> None:
        results.append(harness.drive(server, label, line, share, seconds, RATE_CEILING))

    threads = [threading.Thread(target=one, args=pair) for pair in zip(case.nodes, case.lines, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ticks_after = machine_ticks()
    after = case.cpu()
    xacts = case.transactions() - xacts_before
    if len(results) != len(case.nodes):
        raise SystemExit(f"{label}: a wrk run failed")
    requests = sum(r.requests for r in results)
    own, database = after[0] - before[0], after[1] - before[1]
    return Round(
        rps=sum(r.rps for r in results),
        own_us=1e6 * own / requests,
        total_us=1e6 * (own + database) / requests,
        failed=sum(r.failed for r in results),
        xacts=xacts / requests,
        busy=(os.cpu_count() or 1) * (ticks_after[0] - ticks_before[0]) / max(ticks_after[1] - ticks_before[1], 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1, help="workers per node")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pg_url = postgres_url()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.workers} worker(s) per node")
    rounds: dict[str, list[Round]] = {case: [] for case in CASES}
    with contextlib.ExitStack() as stack:
        url, postmaster = stack.enter_context(postgres_schema(pg_url))
        stats = create_engine(pg_url, isolation_level="AUTOCOMMIT")
        stack.callback(stats.dispose)
        root_key = base64.b64encode(os.urandom(32)).decode()
        sqlite = stack.enter_context(node(args.workers, root_key, None))
        first = stack.enter_context(node(args.workers, root_key, url))
        second = stack.enter_context(node(args.workers, root_key, url))
        lines = {server.port: encrypt_line(server) for server in (sqlite, first, second)}
        cases = {
            CASES[0]: Case([sqlite], None, [lines[sqlite.port]]),
            CASES[1]: Case([first], postmaster, [lines[first.port]], stats),
            CASES[2]: Case([first, second], postmaster, [lines[first.port], lines[second.port]], stats),
        }
        for label, case in cases.items():
            drive(case, f"warm-up {label}", 2)
        for round_no in range(1, args.rounds + 1):
            for label in CASES if round_no % 2 else CASES[::-1]:
                r = drive(cases[label], label, args.seconds)
                if r.failed:
                    raise SystemExit(f"{label}: {r.failed} requests failed")
                rounds[label].append(r)
                print(
                    f"  round {round_no} {label:18} {r.rps:7.0f} req/s  {r.own_us:5.0f} us openkms"
                    f"  {r.total_us:5.0f} us with the database  {r.xacts:4.2f} transactions/req"
                    f"  {r.busy:4.2f} cores busy",
                    flush=True,
                )
    report(args, rounds)


def report(args: argparse.Namespace, rounds: dict[str, list[Round]]) -> None:
    med = {case: Round(*(statistics.median(getattr(r, f) for r in rs) for f in Round.__dataclass_fields__))
           for case, rs in rounds.items()}  # fmt: skip
    print(f"\nEncrypt, concurrency {CONCURRENCY}, {args.workers} worker(s) per node, median of {args.rounds} x "
          f"{args.seconds:.0f} s on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'case':18} {'req/s':>7} {'CPU us/req openkms':>19} {'+ database':>11} {'transactions/req':>17}"
          f" {'cores busy':>11}")  # fmt: skip
    for case in CASES:
        m = med[case]
        print(f"{case:18} {m.rps:>7.0f} {m.own_us:>19.0f} {m.total_us:>11.0f} {m.xacts:>17.2f} {m.busy:>11.2f}")
    lite, pg, two = med[CASES[0]], med[CASES[1]], med[CASES[2]]
    cpu_ratio = pg.total_us / lite.total_us
    per_round = [p.total_us / s.total_us for p, s in zip(rounds[CASES[1]], rounds[CASES[0]], strict=True)]
    print(
        f"\nCPU per request, PostgreSQL (openkms + database) / SQLite: {cpu_ratio:.2f}x "
        f"(openkms alone {pg.own_us / lite.own_us:.2f}x; rounds {', '.join(f'{x:.2f}' for x in per_round)})"
        f"  target <= 1.30: {'met' if cpu_ratio <= 1.3 else 'MISSED'}"
    )
    scale = two.rps / pg.rps
    per_round = [t.rps / o.rps for t, o in zip(rounds[CASES[2]], rounds[CASES[1]], strict=True)]
    cores = os.cpu_count() or 1
    allowed = "" if cores >= 2 * args.workers + 2 else f" (this machine: {cores} CPUs for 2 nodes, wrk and PostgreSQL)"
    print(
        f"two nodes / one node (PostgreSQL): {scale:.2f}x (rounds {', '.join(f'{x:.2f}' for x in per_round)})"
        f"  target >= 1.60: {'met' if scale >= 1.6 else 'MISSED'}{allowed}"
    )
    # One node's case kept pg.busy cores busy, everything counted (wrk and the database too): were
    # the work to scale perfectly, the machine could serve at most cores / pg.busy times as much.
    ceiling = cores / pg.busy
    print(
        f"what the machine allowed: one node's case kept {pg.busy:.2f} of {cores} cores busy, two nodes' "
        f"{two.busy:.2f}: at most {ceiling:.2f}x one node's requests; two nodes reached {scale / ceiling:.0%} of that"
    )


if __name__ == "__main__":
    main()
