"""What a compiled request core would buy (issue 18): signed Encrypt served by openkms with parts
of its request path compiled by mypyc, next to the same source as pure Python and next to the
ceiling of the stack, the minimal Starlette endpoint of ``minimal_app.py``.

In a temporary directory it copies the source tree once per variant, compiles the variant's
modules there with mypyc (the ``.so`` files land next to the ``.py`` files of that copy only, and
Python imports an extension module before the source of the same name), checks in a fresh
interpreter that each of them is imported from its ``.so``, then serves each tree with
``openkms serve`` (``PYTHONPATH`` pointing at the copy) and drives it as ``encrypt_throughput.py``
does: wrk, pre-signed V1 (GET) and V3 (POST form) Encrypt requests, each with its own nonce. The
servers take turns within each round, the minimal endpoint first. Nothing is compiled in the
working tree; the temporary directory goes when the run ends.

The variants (``--variants``, in this order by default):

- ``parsing+signing``: the request's parameters, canonical forms and signatures, verification,
  rendering and request ids (``protocol/{request,params,signing,verify,render,request_ids}``);
- ``+audit+log``: those and the audit trail (``service/audit``, ``audit/*``, ``domain/audit``)
  and the access log (``access_log``, ``protocol/app``);
- ``whole``: every module with code that runs during an Encrypt (``WHOLE``), less the modules
  mypyc refuses (``REFUSED``, each with its reason).

Before the HTTP rounds, each tree also serves signed V1 Encrypt in-process (a child process per
tree and round: ``RpcHandler.handle`` as ``openkms serve`` builds it, no HTTP), where only
openkms's own work is timed.

The table gives server CPU per request (the median round's), its ratio to the minimal endpoint's
(issue 18's target: 3x or less), and to the pure-Python tree's, per case; then the in-process
CPU per request of each tree.

    python benchmarks/compiled_core.py [--workers 1] [--seconds 10] [--rounds 3] [--variants ...] [--in-process N]

Needs wrk and gcc (mypyc comes with mypy, in the test extra).
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import harness
from harness import Result

ROOT = Path(__file__).resolve().parent.parent
PLAINTEXT = base64.b64encode(os.urandom(32)).decode()
CPU_TARGET = 3.0  # issue 18
CASES = ("Encrypt V1", "Encrypt V3")

# Modules mypyc refuses as they are (mypy 2.4), with the reason; left out of every variant.
REFUSED = {
    "openkms/storage/sqlite.py": "scope_lock = None narrows the base's ClauseElement | None (mypyc wants it annotated)",
    "openkms/storage/postgres.py": "scope_lock = POSTGRES_SCOPE_LOCK, the same narrowing of the base's attribute",
    "openkms/storage/sql/store.py": "compiles, but its SqlStore is the base of the two above (interpreted subclass)",
    "openkms/storage/nonces.py": "continue inside try/finally is unimplemented (_sweep)",
    "openkms/service/importing.py": "continue inside try/finally is unimplemented (two loops of the purge)",
    "openkms/crypto/pkcs11_module.py": "nested class definitions not supported (_OsLockingLib in __init__)",
    "openkms/crypto/keypool.py": "attribute _thread becomes the C field __thread, a gcc keyword (mypyc bug)",
    "openkms/protocol/control.py": "compiles, but its class body's ENDPOINTS names its methods: KeyError at import",
}
PARSING = tuple(f"openkms/protocol/{m}.py" for m in ("request", "params", "signing", "verify", "render", "request_ids"))
AUDIT_AND_LOG = (
    "openkms/service/audit.py",
    "openkms/audit/*.py",
    "openkms/domain/audit.py",
    "openkms/access_log.py",
    "openkms/protocol/app.py",
)
# Every module with code that runs during an Encrypt (a profile hook over RpcHandler.handle, 10
# signed requests), the ASGI layer's too: the same modules for V1 and V3.
WHOLE = (
    *PARSING,
    *AUDIT_AND_LOG,
    "openkms/protocol/actions/{context,crypto,shape}.py",
    "openkms/service/{authorizer,backends,crypto,identity,quotas,resolve}.py",
    "openkms/domain/{actions,aliases,authorization,ciphertext,context,identity,keys,node_ports}.py",
    "openkms/domain/{regions,specs,states}.py",
    "openkms/crypto/{algorithms,software,symmetric}.py",
    "openkms/storage/sql/{changes,db,identity,keys,scopes,versions}.py",
    "openkms/system.py",
)
VARIANTS: dict[str, tuple[str, ...]] = {
    "parsing+signing": PARSING,
    "+audit+log": PARSING + AUDIT_AND_LOG,
    "whole": WHOLE,
}


@dataclass
class Tree:
    """A copy of the source tree, served with ``PYTHONPATH`` pointing at its ``src``."""

    name: str
    src: Path
    modules: list[str]  # paths under src, compiled in this copy
    compile_seconds: float = 0.0


def _copy(name: str, into: Path) -> Path:
    dest = into / name.replace("+", "plus-")
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"))
    shutil.copy2(ROOT / "pyproject.toml", dest)  # mypy's settings (strict, the untyped imports)
    return dest / "src"


def _expand(pattern: str) -> list[str]:
    """``a/{b,c}.py`` as ``a/b.py`` and ``a/c.py`` (one pair of braces at most)."""
    head, brace, rest = pattern.partition("{")
    if not brace:
        return [pattern]
    names, _, tail = rest.partition("}")
    return [f"{head}{name}{tail}" for name in names.split(",")]


def _modules(src: Path, patterns: tuple[str, ...]) -> list[str]:
    found: set[str] = set()
    for pattern in (p for each in patterns for p in _expand(each)):
        matched = {str(p.relative_to(src)) for p in src.glob(pattern)}
        if not matched:
            sys.exit(f"no module matches {pattern}")
        found |= matched
    return sorted(m for m in found if m not in REFUSED)


def _compile(tree: Tree) -> None:
    """mypyc on the tree's modules, in place; exits with mypyc's errors if it refuses one."""
    started = time.monotonic()
    argv = [sys.executable, "-m", "mypyc", "--config-file", str(tree.src.parent / "pyproject.toml"), *tree.modules]
    done = subprocess.run(argv, cwd=tree.src, capture_output=True, text=True, check=False)
    tree.compile_seconds = time.monotonic() - started
    if done.returncode != 0:
        errors = [line for line in (done.stdout + done.stderr).splitlines() if "error" in line]
        sys.exit(f"mypyc refused {tree.name}:\n" + "\n".join(errors[:40]))
    shutil.rmtree(tree.src / "build")  # the C sources and objects; the .so files are in place


def _check_loaded(tree: Tree) -> None:
    """Each module of the tree imports from its .so in a fresh interpreter (and the app builds)."""
    names = [m.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for m in tree.modules]
    script = (
        "import importlib, sys\n"
        "import openkms.cli.main\n"
        f"for name in {names!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    if not module.__file__.endswith('.so'):\n"
        "        sys.exit(f'{name} imported from {module.__file__}')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tree.src)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{tree.name}: the compiled tree does not import:\n{done.stderr[-3000:]}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"some of {', '.join(VARIANTS)}")
    parser.add_argument("--in-process", type=int, default=2000, metavar="N", help="in-process block (0: none)")
    parser.add_argument("--pipeline", type=int, help=argparse.SUPPRESS)  # the in-process child's own option
    args = parser.parse_args()
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    return args


def _prepare(variants: list[str], into: Path) -> list[Tree]:
    trees = [Tree("pure Python", _copy("pure", into), [])]
    for name in variants:
        src = _copy(name, into)
        tree = Tree(name, src, _modules(src, VARIANTS[name]))
        print(f"compiling {name}: {len(tree.modules)} modules ...", flush=True)
        _compile(tree)
        _check_loaded(tree)
        print(f"  {tree.compile_seconds:.0f} s", flush=True)
        trees.append(tree)
    return trees


def _measure(trees: list[Tree], args: argparse.Namespace) -> dict[str, list[Result]]:
    runs: dict[str, list[Result]] = defaultdict(list)

    def run(server: harness.Server, label: str, line: Callable[[], str], rate: float) -> None:
        harness.drive(server, "warm-up", line, args.concurrency, 3, rate)  # imports, caches, the key pool
        r = harness.drive(server, label, line, args.concurrency, args.seconds, rate)
        runs[label].append(r)
        print(f"  {label:44} {r.rps:8.0f} req/s  {r.cpu_us:5.0f} us CPU/req  failed {r.failed}", flush=True)

    for round_no in range(1, args.rounds + 1):
        print(f"round {round_no}", flush=True)
        port = harness.free_port()
        with harness.serve("minimal", harness.uvicorn_argv("minimal_app:app", port, args.workers), port) as server:
            params = {"KeyId": "alias/bench", "Plaintext": PLAINTEXT}
            run(server, "minimal endpoint", partial(harness.v1_line, "Encrypt", params), 40000)
        # The openkms trees in turn, in an order that alternates, so a neighbour's load falls on all.
        for tree in trees if round_no % 2 else trees[::-1]:
            with harness.openkms(args.workers, {"PYTHONPATH": str(tree.src)}) as server:
                key_id = str(harness.call(server.url, "CreateKey")["KeyMetadata"]["KeyId"])  # type: ignore[index]
                params = {"KeyId": key_id, "Plaintext": PLAINTEXT}
                lines = {
                    "Encrypt V1": partial(harness.v1_line, "Encrypt", params),
                    "Encrypt V3": partial(harness.v3_line, "Encrypt", params, f"127.0.0.1:{server.port}"),
                }
                for case in CASES:
                    run(server, f"{case} {tree.name}", lines[case], 14000)
    return runs


def _pipeline(block: int) -> None:
    """The in-process child: signed V1 Encrypt through ``RpcHandler.handle`` (no HTTP), the handler
    built as ``openkms serve`` builds it (audit trail, access log to /dev/null, Prometheus metrics);
    prints the CPU microseconds per request, the median of five blocks of ``block`` requests."""
    import json
    import logging
    from urllib.parse import urlencode

    from openkms import access_log, bootstrap
    from openkms.metrics import prometheus
    from openkms.protocol import signing
    from openkms.protocol.app import RpcHandler
    from openkms.settings import Settings

    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/x-www-form-urlencoded")]

    def body(access_key: tuple[str, str], action: str, params: dict[str, str]) -> bytes:
        p = harness.v1_params(action, params, access_key)
        p["Signature"] = signing.v1_signature(access_key[1], signing.v1_string_to_sign("POST", p))
        return urlencode(p).encode()

    with tempfile.TemporaryDirectory(prefix="openkms-bench-") as data_dir, open(os.devnull, "w") as devnull:
        log = logging.getLogger(access_log.NAME)
        line_handler = access_log.LineHandler(devnull)
        line_handler.setFormatter(logging.Formatter(access_log.FORMAT))
        log.addHandler(line_handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        cfg = Settings.load(env={}, data_dir=Path(data_dir), rsa_pool_size=0)
        bootstrap.prepare(cfg)
        runtime = bootstrap.build(cfg)
        try:
            issued = runtime.services.identity.create_access_key(new_account=True)
            ak = (issued.access_key.id, issued.secret)
            metrics = prometheus.PrometheusMetrics()
            handler = RpcHandler(runtime.services, runtime.nonces, runtime.auth_clock, metrics=metrics)
            made = handler.handle("POST", "/", b"", headers, body(ak, "CreateKey", {}), "127.0.0.1")
            params = {"KeyId": json.loads(made.body)["KeyMetadata"]["KeyId"], "Plaintext": PLAINTEXT}
            cpu = []
            for turn in range(6):  # the first a warm-up
                bodies = [body(ak, "Encrypt", params) for _ in range(block)]
                started = time.process_time()
                for each in bodies:
                    if handler.handle("POST", "/", b"", headers, each, "127.0.0.1").status != 200:
                        sys.exit("in-process Encrypt failed")
                if turn:
                    cpu.append((time.process_time() - started) / block * 1e6)
        finally:
            runtime.close()
    print(statistics.median(cpu))


def _in_process(trees: list[Tree], args: argparse.Namespace, into: Path) -> dict[str, list[float]]:
    """Each tree's in-process CPU per request, one child process per tree and round, in turns."""
    cpu: dict[str, list[float]] = defaultdict(list)
    for round_no in range(1, args.rounds + 1):
        for tree in trees if round_no % 2 else trees[::-1]:
            with tempfile.TemporaryDirectory(prefix="metrics-", dir=into) as metrics_dir:
                # prometheus-client reads its directory when first imported, as in `openkms serve`'s workers.
                env = {**os.environ, "PYTHONPATH": str(tree.src), "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
                argv = [sys.executable, __file__, "--pipeline", str(args.in_process)]
                done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                sys.exit(f"{tree.name}: the in-process run failed:\n{done.stderr[-3000:]}")
            cpu[tree.name].append(float(done.stdout))
            print(f"  in-process {tree.name:32} {cpu[tree.name][-1]:5.0f} us CPU/req", flush=True)
    return cpu


def _table(
    trees: list[Tree],
    runs: dict[str, list[Result]],
    in_process: dict[str, list[float]],
    args: argparse.Namespace,
    load: float,
) -> None:
    print(f"\nload average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    print(f"median of {args.rounds} rounds, {args.seconds:.0f} s each, workers={args.workers}, c{args.concurrency}")
    print(f"ratio: server CPU per request over the minimal endpoint's (target <= {CPU_TARGET}x) and over pure Python's")
    minimal = harness.median(runs["minimal endpoint"])
    rows = [(minimal, "ceiling")]
    for case in CASES:
        pure = harness.median(runs[f"{case} pure Python"])
        for tree in trees:
            ours = harness.median(runs[f"{case} {tree.name}"])
            # Each round's own ratio to pure Python: the two ran minutes apart at most.
            mine, theirs = runs[f"{case} {tree.name}"], runs[f"{case} pure Python"]
            paired = statistics.median(o.cpu_us / p.cpu_us for o, p in zip(mine, theirs, strict=True))
            ratio = f"{ours.cpu_us / minimal.cpu_us:.2f}x minimal"
            if tree.modules:
                ratio += f", {ours.cpu_us / pure.cpu_us:.2f} of pure (rounds' median {paired:.2f})"
            rows.append((ours, ratio))
    harness.table(rows)
    failed = sum(r.failed for results in runs.values() for r in results)
    print(f"failed requests in all runs: {failed}")
    if in_process:
        print(f"\nin-process (RpcHandler.handle, signed V1 POST, no HTTP), median of {args.rounds} rounds")
        print(f"{'tree':20} {'CPU us/req':>10}  of pure  saved us")
        base = statistics.median(in_process["pure Python"])
        for tree in trees:
            own = statistics.median(in_process[tree.name])
            print(f"{tree.name:20} {own:>10.0f}  {own / base:>7.2f}  {base - own:>8.0f}")
    for tree in trees[1:]:
        print(f"\n{tree.name}: {len(tree.modules)} modules compiled in {tree.compile_seconds:.0f} s")
        print("  " + " ".join(m.removeprefix("openkms/").removesuffix(".py") for m in tree.modules))
    print("\nrefused by mypyc, in no variant:")
    for module, reason in REFUSED.items():
        print(f"  {module}: {reason}")


def main() -> None:
    args = _arguments()
    if args.pipeline is not None:
        _pipeline(args.pipeline)
        return
    harness.require_wrk()
    # Stopped by a signal, it still stops its servers and removes the copies (the with blocks unwind).
    signal.signal(signal.SIGTERM, lambda _signo, _frame: sys.exit(143))
    load = os.getloadavg()[0]
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs; workers={args.workers}", flush=True)
    with tempfile.TemporaryDirectory(prefix="openkms-compiled-") as into:
        trees = _prepare(args.variants.split(","), Path(into))
        in_process = _in_process(trees, args, Path(into)) if args.in_process else {}
        runs = _measure(trees, args)
    _table(trees, runs, in_process, args, load)


if __name__ == "__main__":
    main()
