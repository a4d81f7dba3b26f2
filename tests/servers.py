"""Real openkms servers for tests: in-process (uvicorn in a thread, clock under the test's
control) or as a separate ``openkms serve`` process (for the command line, workers, signals)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from openkms import bootstrap
from openkms.asgi import OpenKmsApp
from openkms.settings import Settings
from openkms.system import OffsetClock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base_url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # polling for start-up, not waiting on a domain timer
    raise RuntimeError("server did not become healthy")


@dataclass
class InProcessServer:
    endpoint: str  # host:port, as the SDKs want it
    access_key_id: str
    secret: str
    runtime: bootstrap.Runtime
    clock: OffsetClock
    data_dir: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def services(self) -> Any:
        return self.runtime.services

    def new_account(self) -> tuple[str, str, str]:
        """A fresh account (its own namespace of keys and aliases): (access key id, secret, uid)."""
        issued = self.runtime.services.identity.create_access_key(new_account=True)
        return issued.access_key.id, issued.secret, issued.access_key.account_uid


@contextmanager
def inprocess_server(data_dir: Path, **settings: Any) -> Iterator[InProcessServer]:
    port = free_port()
    values: dict[str, Any] = {"keys_per_region": 100_000, "aliases_per_region": 100_000}
    values.update(settings)
    cfg = Settings.load(env={}, data_dir=data_dir, port=port, **values)
    issued = bootstrap.prepare(cfg)
    assert issued is not None
    clock = OffsetClock()
    runtime = bootstrap.build(cfg, clock=clock)
    app = OpenKmsApp(runtime, run_scheduler=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield InProcessServer(f"127.0.0.1:{port}", issued.access_key.id, issued.secret, runtime, clock, data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class ProcessServer:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.endpoint}"

    def admin(self) -> dict[str, str]:
        data: dict[str, str] = json.loads((self.data_dir / "admin-credentials.json").read_text())
        return data

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def openkms_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "openkms.cli.main", *args]


@contextmanager
def process_server(
    data_dir: Path, *extra: str, env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[ProcessServer]:
    port = free_port()
    log_path = data_dir.parent / f"{data_dir.name}-server.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENKMS_")}
    full_env.update(env or {})
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            openkms_command(
                "serve", "--data-dir", str(data_dir), "--port", str(port), "--workers", str(workers), *extra
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    server = ProcessServer(proc, port, data_dir, log_path)
    try:
        wait_healthy(server.base_url, proc=proc)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
