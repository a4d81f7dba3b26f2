"""The restore drill's own ``openkms serve``: on the restored database, under the live node's root
of trust, with a fresh data directory and nothing that reaches outside the drill (loopback plain
HTTP, its own audit directory, no secret-rotation hosts)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openkms.cli.drill_pg import Database, DrillError

READY_SECONDS = 120.0
# Whatever the live node's configuration says, the drill's node serves plain HTTP on loopback,
# writes its audit trail into the drill's directory, and rotates no external database password
# (a "," is a list of no hosts; an empty value would leave the file's setting in force).
_CONTAINED = {
    "OPENKMS_SERVER_PRODUCTION": "false",
    "OPENKMS_SERVER_HTTP": "true",
    "OPENKMS_SECRETS_ROTATION_HOSTS": ",",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback node
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _last_words(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "nothing logged"


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DrillError(f"openkms serve exited with status {proc.returncode}: {_last_words(log)}")
        if _answers(url):
            return
        time.sleep(0.1)  # polling a starting process, not waiting on a timer
    raise DrillError(f"openkms serve did not answer within {READY_SECONDS:.0f} s (its log: {log})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def start_node(restored: Database, root_env: dict[str, str], config: Path | None, work: Path) -> Iterator[str]:
    """Yields the node's endpoint (host:port); stops it on the way out."""
    port = _free_port()
    data = work / "data"
    command = [sys.executable, "-m", "openkms.cli.main", "serve", "--data-dir", str(data), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--no-tls", "--workers", "1"]
    if config is not None:
        command += ["--config", str(config)]
    env = dict(os.environ)
    env.update(_CONTAINED)
    env.update(root_env)
    env["OPENKMS_DATABASE_URL"] = restored.openkms_url
    env["OPENKMS_AUDIT_DIRECTORY"] = str(work / "audit")
    log = work / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}/healthz", log)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)
