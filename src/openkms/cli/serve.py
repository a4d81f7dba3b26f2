"""``openkms serve``: first-start preparation once, then uvicorn with N worker processes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging.config
import os
import shutil
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.supervisors import multiprocess

from openkms import access_log, bootstrap
from openkms.cli import dev
from openkms.cli.http_limits import HttpLimits, limited_protocol, websockets_on_upgrade
from openkms.domain import errors
from openkms.domain.ports import Clock
from openkms.settings import Settings, SettingsError
from openkms.system import SystemClock

if TYPE_CHECKING:  # cli/tls.py and its X.509 modules are imported by a server that serves HTTPS only
    from openkms.cli import tls

log = logging.getLogger("openkms")


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's access log prints query strings, which carry plaintext: openkms logs its own line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": access_log.FORMAT}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
            # The same stream and format; its lines skip the logging machinery (openkms/access_log.py).
            "access": {"class": "openkms.access_log.LineHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "openkms": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "openkms.access": {"handlers": ["access"], "level": level.upper(), "propagate": False},
        },
    }


# How long a stopping server keeps polling its connections before closing the idle ones, so that
# requests already sent (and still in the kernel's buffers) are read and answered, not dropped.
DRAIN_SECONDS = 0.05
STARTUP_FAILURE = 3  # uvicorn's status when the server could not start (port in use, app failed)


@dataclass(frozen=True)
class Listeners:
    """Which of the sockets a server is given speak TLS (the last ``len - plain``), and what they
    need to load their certificate. Pickled into each worker process with its uvicorn config."""

    plain: int
    settings: Settings  # the worker's TLS reads the certificate settings and opens the root key


class ServeConfig(uvicorn.Config):
    """uvicorn's configuration, plus the listeners: uvicorn applies one ``ssl`` to every socket."""

    def __init__(self, app: Any, listeners: Listeners, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.listeners = listeners


class DrainingServer(uvicorn.Server):
    """uvicorn's server, serving plain and TLS sockets, with a shutdown that loses no request a
    client has already sent.

    uvicorn stops by closing its listening socket, which resets every connection still waiting
    in the kernel's accept queue, and then closing each connection that has no request under
    way, including those whose request has arrived but not yet been read. Under load (the
    event loop busy with requests) both hold requests that clients consider sent. This server
    first accepts the queued connections, stops listening, and lets the loop read once more;
    uvicorn's own shutdown then waits for every request that was read.
    """

    def __init__(self, config: uvicorn.Config, clock: Clock | None = None) -> None:
        super().__init__(config)
        self.clock: Clock = clock or SystemClock()
        self.tls: tls.ServerTls | None = None
        self._tls_servers: list[asyncio.base_events.Server] = []
        self._tls_check: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        listeners = getattr(self.config, "listeners", None)
        if sockets is None or not isinstance(listeners, Listeners):
            await super().startup(sockets)
            return
        plain, secure = sockets[: listeners.plain], sockets[listeners.plain :]
        if secure:
            from openkms.cli import tls

            try:  # before the application starts: a worker that cannot serve TLS does not start
                self.tls = tls.ServerTls(listeners.settings, self.clock)
            except (SettingsError, errors.KmsError, OSError) as exc:
                log.error("cannot serve HTTPS: %s", exc.message if isinstance(exc, errors.KmsError) else exc)
                sys.exit(STARTUP_FAILURE)
        await super().startup(plain)
        loop = asyncio.get_running_loop()
        for sock in secure:
            assert self.tls is not None
            server = await loop.create_server(
                self._new_protocol,
                sock=sock,
                ssl=self.tls.context,
                backlog=self.config.backlog,
                ssl_handshake_timeout=self._handshake_timeout(),
            )
            self.servers.append(server)
            self._tls_servers.append(server)
        if self.tls is not None:
            if threading.current_thread() is threading.main_thread():
                loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
            self._tls_check = loop.create_task(self._check_certificate())

    def _handshake_timeout(self) -> float:
        """A handshake is bounded like a request head: the client's time, not the server's."""
        factory = self.config.http
        limits = getattr(factory, "limits", None)
        return limits.request_timeout if isinstance(limits, HttpLimits) else 15.0

    def _on_sighup(self) -> None:
        log.info("SIGHUP: reloading the TLS certificate")
        assert self.tls is not None
        asyncio.get_running_loop().run_in_executor(None, self.tls.reload)

    async def _check_certificate(self) -> None:
        """Renews a generated certificate when it is due, and picks up another worker's renewal."""
        from openkms.cli.tls import CHECK_SECONDS

        assert self.tls is not None
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                await asyncio.to_thread(self.tls.refresh)
            except Exception:
                log.exception("TLS certificate check failed; will retry")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._tls_check is not None:
            self._tls_check.cancel()
        loop = asyncio.get_running_loop()
        queued: list[tuple[socket.socket, Any]] = []
        for server in self.servers:
            context = self.tls.context if server in self._tls_servers and self.tls else None
            for listener in server.sockets:
                queued += [(conn, context) for conn in _accept_queued(listener.fileno())]
            server.close()
        await asyncio.gather(
            *(
                loop.connect_accepted_socket(
                    self._new_protocol, conn, ssl=context, ssl_handshake_timeout=1.0 if context else None
                )
                for conn, context in queued
            ),
            return_exceptions=True,  # a client that left during its handshake is its own loss
        )
        await asyncio.sleep(DRAIN_SECONDS)
        await super().shutdown(sockets)

    def _new_protocol(self) -> asyncio.Protocol:
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol


def _accept_queued(listener_fd: int) -> list[socket.socket]:
    listener = socket.socket(fileno=os.dup(listener_fd))
    accepted: list[socket.socket] = []
    try:
        listener.setblocking(False)
        while True:
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return accepted
            conn.setblocking(False)
            accepted.append(conn)
    finally:
        listener.close()  # the duplicate; the server closes the original


class DrainingWorker(multiprocess.Process):
    """A uvicorn worker process that runs a ``DrainingServer``."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DrainingServer(config=self.config)
        return self._server


class Supervisor(multiprocess.Multiprocess):
    """uvicorn's supervisor, except that SIGHUP asks each worker to reload its TLS certificate in
    place (uvicorn's own answer, replacing every worker, would close their idle connections)."""

    def handle_hup(self) -> None:
        listeners = getattr(self.config, "listeners", None)
        if not isinstance(listeners, Listeners) or not listeners.settings.tls:
            super().handle_hup()
            return
        log.info("SIGHUP: the workers reload the TLS certificate")
        for process in self.processes:
            if process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGHUP)


def _after_graceful_shutdown(_signum: int, _frame: object) -> None:
    """uvicorn re-raises the signal that stopped it once it has shut down gracefully, which would
    end the process as killed by SIGTERM (status 143); the shutdown was clean, so exit 0."""


def http_limits(settings: Settings) -> HttpLimits:
    return HttpLimits(
        max_request_line_bytes=settings.http_max_request_line_bytes,
        max_header_bytes=settings.http_max_header_bytes,
        max_headers=settings.http_max_headers,
        request_timeout=settings.http_request_timeout,
        keep_alive_timeout=settings.http_keep_alive_timeout,
        max_connections=settings.http_max_connections,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, made before the workers (which share it) start; as uvicorn binds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def listen(settings: Settings) -> tuple[list[socket.socket], list[str]] | None:
    """The sockets (plain first, then TLS) and their URLs; None, with the reason logged, when a
    port cannot be had."""
    wanted = [("http", settings.port)] if settings.serves_http else []
    if settings.tls:
        wanted.append(("https", settings.tls_port))
    sockets: list[socket.socket] = []
    try:
        for _, port in wanted:
            sockets.append(bind(settings.host, port))
    except OSError as exc:
        log.error("cannot listen on %s port %d: %s", settings.host, wanted[len(sockets)][1], exc.strerror or exc)
        for sock in sockets:
            sock.close()
        return None
    return sockets, [url(scheme, sock) for (scheme, _), sock in zip(wanted, sockets, strict=True)]


METRICS_DIR = "metrics"


def metrics_directory(settings: Settings) -> Path:
    """prometheus-client's multi-process files, emptied at each start: a dead worker's counts from
    an earlier run must not be added to this run's (its client library's rule). Set before any
    worker starts, so that each imports prometheus-client in multi-process mode."""
    directory = settings.data_dir / METRICS_DIR
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


def _environment_for_workers(settings: Settings) -> None:
    metrics_directory(settings)
    # Worker processes rebuild their settings from the environment.
    os.environ["OPENKMS_DATA_DIR"] = str(settings.data_dir)
    # Each worker chooses its replay protection by how many processes share the node.
    os.environ["OPENKMS_WORKERS"] = str(settings.workers)
    if settings.config_file:
        os.environ["OPENKMS_CONFIG"] = str(settings.config_file)
    if settings.dev:
        os.environ["OPENKMS_TESTING_DEV"] = "true"
    if settings.seed_file is not None:
        os.environ["OPENKMS_TESTING_SEED_FILE"] = str(settings.seed_file.resolve())
    if settings.deterministic:
        os.environ["OPENKMS_TESTING_DETERMINISTIC"] = settings.deterministic


def load_settings(args: argparse.Namespace, dev_data_dir: Path | None = None) -> Settings:
    return Settings.load(
        config_file=args.config,
        dev=True if dev_data_dir is not None else None,
        data_dir=dev_data_dir or args.data_dir,
        host=args.host,
        port=args.port,
        workers=args.workers,
        tls_port=args.tls_port,
        plain_http=False if args.no_http else None,
        tls=False if args.no_tls else None,
        seed_file=getattr(args, "seed", None),
        deterministic=getattr(args, "deterministic", None),
    )


def announce(settings: Settings, urls: list[str], first_start: bool) -> None:
    """Every start logs where it listens; the first also tells the operator, with the CA to trust."""
    trust = ""
    if settings.tls and not settings.tls_cert_file:
        from openkms.cli import tls

        trust = f" (clients verify it with {tls.tls_dir(settings) / tls.CA_FILE})"
    lines = [f"{u}{trust if u.startswith('https') else ''}" for u in urls]
    for line in lines:
        log.info("listening on %s", line)
    if first_start:
        sys.stdout.write("".join(f"openkms: listening on {line}\n" for line in lines))
        sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "dev", False):
        return _serve(load_settings(args))
    with dev.data_dir(args.data_dir) as directory:
        return _serve(load_settings(args, directory))


def _serve(settings: Settings) -> int:
    # The log is set up before uvicorn does so (with the same configuration) for the lines of the
    # start itself: the orphan report below.
    logging.config.dictConfig(log_config(settings.log_level))
    if settings.seed_file is not None:
        from openkms import seedfile  # a server given a seed only (its JSON Schema, TOML, the seed's model)

        seedfile.load(settings.seed_file)  # a bad seed is told before anything is made
    if settings.tls and settings.tls_cert_file is not None:
        from openkms.cli import tls  # and its X.509 modules: for a server that serves HTTPS only

        tls.configured(settings)  # a wrong path or key is told before anything is created
    issued = bootstrap.prepare(settings)
    if issued is not None:
        bootstrap.print_new_admin(issued, settings.data_dir)
    if settings.dev:
        dev.announce(settings)
    else:  # a dev server's tokens are its own, and its start should be quick
        bootstrap.report_orphans(settings)  # once per node, not once per worker
    if settings.tls:
        from openkms.cli import tls

        tls.prepare(settings, SystemClock())  # the certificate checked (or issued) once, before any worker
    bound = listen(settings)
    if bound is None:
        return STARTUP_FAILURE
    sockets, urls = bound
    announce(settings, urls, first_start=issued is not None)
    _environment_for_workers(settings)
    config = server_config(settings)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _after_graceful_shutdown)
    if settings.workers > 1:
        # uvicorn's supervisor creates its workers through this module-level name (uvicorn is pinned).
        multiprocess.Process = DrainingWorker  # type: ignore[misc]
        Supervisor(config, sockets=sockets).run()
        return 0
    server = DrainingServer(config)
    server.run(sockets=sockets)
    return 0 if server.started else STARTUP_FAILURE


def server_config(settings: Settings) -> ServeConfig:
    """uvicorn's configuration of a server: each worker builds its application from it."""
    return ServeConfig(
        "openkms.asgi:create_app",
        Listeners(plain=1 if settings.serves_http else 0, settings=settings),
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=log_config(settings.log_level),
        server_header=False,
        # uvicorn believes X-Forwarded-* from 127.0.0.1 by default: any local process could then
        # pick the source address and the transport policies condition on and the trail records.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        timeout_graceful_shutdown=30,
        http=limited_protocol(http_limits(settings)),
        ws=websockets_on_upgrade(),
    )
