"""``openkms serve``: first-start preparation once, then uvicorn with N worker processes."""

from __future__ import annotations

import argparse
import asyncio
import logging.config
import os
import signal
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import multiprocess

from openkms import bootstrap
from openkms.cli.http_limits import HttpLimits, limited_protocol
from openkms.settings import Settings


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's access log prints query strings, which carry plaintext: openkms logs its own line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "openkms": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
    }


# How long a stopping server keeps polling its connections before closing the idle ones, so that
# requests already sent (and still in the kernel's buffers) are read and answered, not dropped.
DRAIN_SECONDS = 0.05
STARTUP_FAILURE = 3  # uvicorn's status when the server could not start (port in use, app failed)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with a shutdown that loses no request a client has already sent.

    uvicorn stops by closing its listening socket, which resets every connection still waiting
    in the kernel's accept queue, and then closing each connection that has no request under
    way, including those whose request has arrived but not yet been read. Under load (the
    event loop busy with requests) both hold requests that clients consider sent. This server
    first accepts the queued connections, stops listening, and lets the loop read once more;
    uvicorn's own shutdown then waits for every request that was read.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        queued: list[socket.socket] = []
        for server in self.servers:
            for listener in server.sockets:
                queued += _accept_queued(listener.fileno())
            server.close()
        for conn in queued:
            await loop.connect_accepted_socket(self._new_protocol, conn)
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


def run(args: argparse.Namespace) -> int:
    settings = Settings.load(
        config_file=args.config, data_dir=args.data_dir, host=args.host, port=args.port, workers=args.workers
    )
    # The log is set up before uvicorn does so (with the same configuration) for the lines of the
    # start itself: the orphan report below.
    logging.config.dictConfig(log_config(settings.log_level))
    issued = bootstrap.prepare(settings)
    if issued is not None:
        bootstrap.print_new_admin(issued, settings.data_dir)
    bootstrap.report_orphans(settings)  # once per node, not once per worker
    # Worker processes rebuild their settings from the environment.
    os.environ["OPENKMS_DATA_DIR"] = str(settings.data_dir)
    # Each worker chooses its replay protection by how many processes share the node.
    os.environ["OPENKMS_WORKERS"] = str(settings.workers)
    if settings.config_file:
        os.environ["OPENKMS_CONFIG"] = str(settings.config_file)
    config = uvicorn.Config(
        "openkms.asgi:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=False,
        log_config=log_config(settings.log_level),
        server_header=False,
        timeout_graceful_shutdown=30,
        http=limited_protocol(http_limits(settings)),
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _after_graceful_shutdown)
    if settings.workers > 1:
        # uvicorn's supervisor creates its workers through this module-level name (uvicorn is pinned).
        multiprocess.Process = DrainingWorker  # type: ignore[misc]
        multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    server = DrainingServer(config)
    server.run()
    return 0 if server.started else STARTUP_FAILURE
