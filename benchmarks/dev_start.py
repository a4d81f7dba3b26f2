"""How long ``openkms serve --dev`` takes to answer its first request, as a process (issue 16:
"ready in under a second"), against the stack's floor started the same way: uvicorn serving the
minimal Starlette app of ``minimal_app.py``.

    python benchmarks/dev_start.py [--rounds 7] [--against DIR]

``--against DIR`` also starts ``openkms serve --dev`` from another source tree (a worktree of an
earlier commit, say: ``git worktree add /tmp/before <commit>``), with this interpreter and
``DIR/src`` first on its path, so that a change is measured against what it changed in one run.

Each round starts them all, taking turns, and polls ``/healthz`` (``/`` for the floor) every 5 ms. The
wall time counts the interpreter, the imports and the start; the CPU time is the server process's
own (``/proc/<pid>/stat`` at the first answer), which moves less than the wall time when a
neighbour takes a core.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def first_answer(command: list[str], url: str, tree: Path = _ROOT) -> tuple[float, float]:
    """(wall seconds, server CPU seconds) from the launch to the first answer at ``url``."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src")) if tree != _ROOT else None
    started = time.perf_counter()
    server = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None:
                    raise SystemExit(f"{command[2:4]} exited with {server.returncode} before answering") from None
                time.sleep(0.005)
        return time.perf_counter() - started, cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait()


def floor(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.minimal_app:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def dev(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "openkms.cli.main",
        "serve",
        "--dev",
        "--port",
        str(port),
        "--tls-port",
        str(free_port()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", type=Path, metavar="DIR", help="another source tree's dev server, in turns")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    trees = {"openkms serve --dev": _ROOT}
    if args.against is not None:
        trees[f"… from {args.against.name}"[:24]] = args.against.resolve()
    runs: dict[str, list[tuple[float, float]]] = {"uvicorn + minimal app": [], **{name: [] for name in trees}}
    for _ in range(args.rounds):
        port = free_port()
        runs["uvicorn + minimal app"].append(first_answer(floor(port), f"http://127.0.0.1:{port}/"))
        for name, tree in trees.items():
            port = free_port()
            runs[name].append(first_answer(dev(port), f"http://127.0.0.1:{port}/healthz", tree))
    print(f"load average before: {load:.2f}, after: {os.getloadavg()[0]:.2f}; medians of {args.rounds} rounds")
    print(f"| {'server':24} | wall ms | CPU ms | CPU × floor |")
    print(f"|{'-' * 26}|---------|--------|-------------|")
    base = statistics.median(cpu for _, cpu in runs["uvicorn + minimal app"])
    for name, seen in runs.items():
        wall = statistics.median(w for w, _ in seen)
        cpu = statistics.median(c for _, c in seen)
        print(f"| {name:24} | {wall * 1000:7.0f} | {cpu * 1000:6.0f} | {cpu / base:11.2f} |")


if __name__ == "__main__":
    main()
