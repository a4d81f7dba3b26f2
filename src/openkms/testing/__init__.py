"""openkms for the tests of code that calls Alibaba Cloud KMS: a dev server started and stopped by
a context manager, its clock, fault rules, reset and recent requests, and a ready SDK client.

    from openkms.testing import OpenKms

    with OpenKms() as kms:
        client = kms.client()
        key_id = client.create_key(CreateKeyRequest()).body.key_metadata.key_id
        kms.clock.advance(days=31)

A thread in this process by default (no interpreter to start: measured in README, "Testing with
openkms"); ``mode="process"`` runs ``openkms serve --dev`` instead, isolated from this process.
The pytest plugin (``openkms.testing.plugin``) gives the fixtures ``openkms`` and ``openkms_client``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from openkms.cli.remote import ControlClient
from openkms.settings import DEV_ACCESS_KEY_ID, DEV_ACCESS_KEY_SECRET, OPTIONS, Settings

__all__ = ["Clock", "Faults", "OpenKms"]

START_TIMEOUT_SECONDS = 30.0


class Clock:
    """The server's clock: real time plus an offset. Moving it runs the background jobs (rotation,
    deletion, import expiry) at once; signed requests keep working, as the signature is checked
    against real time."""

    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._control.call("GET", "/clock")["Epoch"], UTC)

    def advance(self, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0) -> dict[str, Any]:
        """Returns what the background jobs did: ``{"Rotated": [...], "Purged": [...], ...}``."""
        total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
        return dict(self._control.call("POST", "/clock/advance", {"Seconds": total})["Scheduler"])

    def set(self, when: datetime) -> dict[str, Any]:
        if when.tzinfo is None:
            raise ValueError("give an aware datetime (UTC, say): a naive one names no instant")
        return dict(self._control.call("POST", "/clock/set", {"Time": when.timestamp()})["Scheduler"])


class Faults:
    """Rules that make requests fail or wait, as the SDK would see Alibaba's errors."""

    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def add(
        self,
        action: str = "*",
        preset: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        message: str | None = None,
        count: int | None = None,
        probability: float = 1.0,
        delay: float = 0.0,
        account: str = "*",
    ) -> dict[str, Any]:
        """``preset``: throttle (429 Rejected.Throttling), deny (403 Forbidden.RAM), internal (500),
        unavailable (503); or ``code`` with ``http_status``. ``count``: fire that many times."""
        rule: dict[str, Any] = {"Action": action, "Account": account, "Probability": probability, "Delay": delay}
        if count is not None:
            rule["Count"] = count
        if preset is not None:
            rule["Preset"] = preset
        if code is not None or http_status is not None:
            rule["Error"] = {"Code": code, "HttpStatus": http_status, **({"Message": message} if message else {})}
        return self._control.call("POST", "/faults", rule)

    def list(self) -> list[dict[str, Any]]:
        return list(self._control.call("GET", "/faults")["Faults"])

    def clear(self) -> None:
        self._control.call("DELETE", "/faults")


@dataclass
class _Running:
    stop: Any  # () -> None


class OpenKms:
    """A dev server on a free port for the life of the ``with`` block."""

    def __init__(
        self,
        mode: str = "thread",
        data_dir: Path | None = None,
        seed: Path | str | None = None,
        deterministic: str | None = None,
        **settings: Any,
    ) -> None:
        """``seed``: a seed file (docs/SEED.md) the server starts from and ``reset()`` returns to;
        ``deterministic``: the ``--deterministic`` seed of generated ids and material."""
        if mode not in ("thread", "process"):
            raise ValueError('mode is "thread" or "process"')
        if seed is not None:
            settings["seed_file"] = Path(seed).resolve()
        if deterministic is not None:
            settings["deterministic"] = deterministic
        self.mode = mode
        self.access_key_id = DEV_ACCESS_KEY_ID
        self.access_key_secret = DEV_ACCESS_KEY_SECRET
        self.region_id = str(settings.get("default_region", Settings.default_region))
        self._given_dir = data_dir
        self._settings = settings
        self._dir: Path | None = None
        self._running: _Running | None = None
        self.port = 0
        self.control = ControlClient("", self.access_key_id, self.access_key_secret)
        self.clock = Clock(self.control)
        self.faults = Faults(self.control)

    @property
    def endpoint(self) -> str:
        """``host:port``, as the SDKs' ``Config(endpoint=...)`` wants it (with ``protocol="http"``)."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._dir = self._given_dir or Path(tempfile.mkdtemp(prefix="openkms-test-"))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.control.endpoint = self.endpoint
        try:
            self._running = self._thread(sock) if self.mode == "thread" else self._process(sock)
            _wait_healthy(f"http://{self.endpoint}/healthz")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None
        if self._given_dir is None and self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _thread(self, sock: socket.socket) -> _Running:
        import uvicorn  # only the thread mode needs the server in this process

        from openkms import bootstrap
        from openkms.asgi import OpenKmsApp
        from openkms.cli.http_limits import websockets_on_upgrade

        assert self._dir is not None
        cfg = Settings.load(env={}, data_dir=self._dir, dev=True, **self._settings)
        bootstrap.prepare(cfg)
        app = OpenKmsApp(bootstrap.build(cfg))
        # The WebSocket protocol imported at an upgrade, as openkms serve does, not at every start.
        ws = websockets_on_upgrade()
        config = uvicorn.Config(app, log_level="warning", access_log=False, log_config=None, lifespan="on", ws=ws)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="openkms")
        thread.start()

        def stop() -> None:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()

        return _Running(stop)

    def _process(self, sock: socket.socket) -> _Running:
        assert self._dir is not None
        sock.close()  # the server binds the port itself: a moment in which another could take it
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENKMS_")}
        env.update(_environment(self._settings))
        command = [sys.executable, "-m", "openkms.cli.main", "serve", "--dev", "--port", str(self.port)]
        proc = subprocess.Popen(
            [*command, "--data-dir", str(self._dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

        def stop() -> None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()

        return _Running(stop)

    def reset(self, to: str | None = None) -> None:
        """Back to the seed (the server's, by default, if it has one) or, ``to="empty"``, every key,
        alias, secret, RAM user and account gone (the administrator pair stays); real time; no faults."""
        self.control.call("POST", "/reset", {"To": to} if to is not None else None)

    def export_seed(self) -> dict[str, Any]:
        """The server's data as a seed document (``openkms.seedfile.writer.dumps`` writes it as TOML)."""
        return dict(self.control.call("GET", "/seed")["Seed"])

    def requests(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last requests, oldest first: Action, Parameters (secrets hashed or left out), Code, LatencyMs."""
        return list(self.control.call("GET", "/requests", Limit=str(limit))["Requests"])

    def client(self, region_id: str | None = None, **config: Any) -> Any:
        """An ``alibabacloud_kms20160120`` client for the administrator pair."""
        # The SDK is the user's dependency (and openkms's tests'), not openkms's.
        from alibabacloud_kms20160120.client import Client  # type: ignore[import-untyped]
        from alibabacloud_tea_openapi.models import Config  # type: ignore[import-untyped]

        cfg = Config(
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            endpoint=self.endpoint,
            protocol="http",
            region_id=region_id or self.region_id,
            **config,
        )
        return Client(cfg)


def _environment(settings: dict[str, Any]) -> dict[str, str]:
    """Settings given as keywords, as the variables a server process reads them from."""
    rows = {row.name: row for row in OPTIONS}
    out: dict[str, str] = {}
    for name, value in settings.items():
        row = rows.get(name)
        if row is None or row.env is None:
            raise ValueError(f"{name!r} cannot be given to a server process (no environment variable)")
        out[row.env] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _wait_healthy(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - our own server
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.01)  # polling for start-up
    raise RuntimeError(f"openkms did not start within {START_TIMEOUT_SECONDS:g} s")
