"""Real openkms servers for tests: in-process (uvicorn in a thread, clock under the test's
control) or as a separate ``openkms serve`` process (for the command line, workers, signals)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from openkms import bootstrap
from openkms.asgi import OpenKmsApp
from openkms.cli import serve
from openkms.cli.tls import ServerTls
from openkms.domain.quotas import QuotaClass, Rate
from openkms.settings import KeyStoreSettings, Settings
from openkms.system import OffsetClock
from tests.hsm_support import SOFTHSM_AVAILABLE, shared_token


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
            # Only waiting for it to answer: the tests check the certificate themselves.
            if httpx.get(f"{base_url}/healthz", timeout=1, verify=False).status_code == 200:
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
    tls_endpoint: str = ""  # host:port of the HTTPS listener, when it has one
    tls: ServerTls | None = None  # what that listener serves: reload() and refresh() as the timers call them

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

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


TEST_HSM_STORE = "kst-softhsm-test"
TEST_HSM_PIN_ENV = "OPENKMS_TEST_HSM_PIN"


def _hsm_settings() -> dict[str, Any]:
    """HSM keys of an in-process server go to the process's shared SoftHSM2 token, configured as
    a key store: SoftHSM2 serves one token directory per process. (openkms's own token in the data
    directory is exercised by the tests that run ``openkms serve`` as a process.)"""
    if not SOFTHSM_AVAILABLE:
        return {"auto_softhsm": False}
    token = shared_token()
    os.environ[TEST_HSM_PIN_ENV] = token.pin
    store = KeyStoreSettings(
        id=TEST_HSM_STORE,
        module=token.module_path,
        token_label=token.token_label,
        pin_env=TEST_HSM_PIN_ENV,
        description="the test process's SoftHSM2 token",
        softhsm2_conf=token.softhsm2_conf,
    )
    return {"auto_softhsm": False, "keystores": (store,), "default_hsm_keystore": TEST_HSM_STORE}


@contextmanager
def inprocess_server(
    data_dir: Path,
    tls: bool = False,
    admin_quotas: tuple[tuple[QuotaClass, Rate], ...] = (),
    auth_clock: OffsetClock | None = None,
    **settings: Any,
) -> Iterator[InProcessServer]:
    """``admin_quotas``: the administrator account's own rates, as a [[quotas.account]] entry
    naming it would set them (its uid is made at the first start). ``auth_clock``: the clock
    signatures are checked against (default: the system's)."""
    port = free_port()
    values: dict[str, Any] = {"keys_per_region": 100_000, "aliases_per_region": 100_000, **_hsm_settings()}
    values.update(settings)
    cfg = Settings.load(env={}, data_dir=data_dir, port=port, **values)
    issued = bootstrap.prepare(cfg)
    assert issued is not None
    uid = issued.access_key.account_uid
    cfg = replace(cfg, quota_overrides=(*cfg.quota_overrides, *((uid, c, rate) for c, rate in admin_quotas)))
    clock = OffsetClock()
    runtime = bootstrap.build(cfg, clock=clock, auth_clock=auth_clock)
    app = OpenKmsApp(runtime, run_scheduler=False)
    if tls:
        with _tls_server(app, cfg, clock) as (tls_port, served):
            yield InProcessServer(
                f"127.0.0.1:{port}",
                issued.access_key.id,
                issued.secret,
                runtime,
                clock,
                data_dir,
                f"127.0.0.1:{tls_port}",
                served,
            )
        return
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        yield InProcessServer(f"127.0.0.1:{port}", issued.access_key.id, issued.secret, runtime, clock, data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def _tls_server(app: OpenKmsApp, cfg: Settings, clock: OffsetClock) -> Iterator[tuple[int, ServerTls]]:
    """``openkms serve``'s own server (both listeners) around ``app``, on the test's clock."""
    sockets = [serve.bind("127.0.0.1", cfg.port), serve.bind("127.0.0.1", 0)]
    tls_port = sockets[1].getsockname()[1]
    config = serve.ServeConfig(app, serve.Listeners(plain=1, settings=cfg), log_level="warning", access_log=False)
    server = serve.DrainingServer(config, clock=clock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    try:
        wait_healthy(f"https://127.0.0.1:{tls_port}")
        assert server.tls is not None
        yield tls_port, server.tls
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for sock in sockets:
            sock.close()


@dataclass
class ProcessServer:
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    stdout_path: Path
    stderr_path: Path
    tls_port: int = 0

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def tls_endpoint(self) -> str:
        return f"127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    def admin(self) -> dict[str, str]:
        data: dict[str, str] = json.loads((self.data_dir / "admin-credentials.json").read_text())
        return data

    def stdout(self) -> str:
        """What the server printed for the operator (the administrator pair, once)."""
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        """The server's log."""
        return self.stderr_path.read_text(errors="replace")

    def log(self) -> str:
        return self.stdout() + self.stderr()

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (with --workers N > 1); empty when the server runs in one process."""
        return [
            pid
            for pid in child_pids(self.proc.pid)
            if b"multiprocessing.spawn" in _cmdline(pid) and b"resource_tracker" not in _cmdline(pid)
        ]

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then the exit status (raises if the server has not exited within ``timeout``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def openkms_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "openkms.cli.main", *args]


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any OPENKMS_* setting, plus ``env``."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENKMS_")}
    full_env.update(env or {})
    return full_env


def run_openkms(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs one ``openkms`` command to completion, capturing stdout and stderr separately."""
    return subprocess.run(
        openkms_command(*args), capture_output=True, text=True, env=clean_env(env), timeout=timeout, check=False
    )


def child_pids(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@contextmanager
def process_server(
    data_dir: Path, *extra: str, env: dict[str, str] | None = None, workers: int = 1, healthy: str | None = None
) -> Iterator[ProcessServer]:
    """A real ``openkms serve`` process, listening on HTTP and on HTTPS (a free port each). stdout
    and stderr go to separate files beside ``data_dir``, new ones for each start. ``healthy``: the
    URL to wait for, where the plain listener is off."""
    port, tls_port = free_port(), free_port()
    run = 1
    while (data_dir.parent / f"{data_dir.name}-{run}-stdout.log").exists():
        run += 1  # one pair of files per start of the same data directory
    stdout_path = data_dir.parent / f"{data_dir.name}-{run}-stdout.log"
    stderr_path = data_dir.parent / f"{data_dir.name}-{run}-stderr.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            openkms_command(
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                "--tls-port",
                str(tls_port),
                "--workers",
                str(workers),
                *extra,
            ),
            stdout=out,
            stderr=err,
            env=clean_env(env),
        )
    server = ProcessServer(proc, port, data_dir, stdout_path, stderr_path, tls_port)
    try:
        wait_healthy(healthy.format(port=port, tls_port=tls_port) if healthy else server.base_url, proc=proc)
        if workers > 1:
            wait_for_workers(server, workers)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for_workers(server: ProcessServer, workers: int, timeout: float = 30.0) -> None:
    """Every worker has started its application (each logs 'Application startup complete')."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.stderr().count("Application startup complete") >= workers:
            return
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}")
        time.sleep(0.05)  # polling for start-up, not waiting on a domain timer
    raise RuntimeError(f"{workers} workers did not start")
