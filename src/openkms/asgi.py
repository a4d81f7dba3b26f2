"""The application: the RPC API at "/", the web console at "/console", "/healthz" (alive),
"/readyz" (ready for requests) and "/metrics" (Prometheus); the lifespan renews the scheduler's
lease and, while this process holds it, runs the scheduler.

"/" is dispatched before Starlette's router: it is the hot path and needs no routing. The console
and the instance gateway are made on their first request (``OnFirstRequest``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from openkms import bootstrap
from openkms.audit.trail import AuditTrail
from openkms.console import MAX_FORM_BYTES
from openkms.domain import errors
from openkms.domain.ports import Fence
from openkms.metrics import prometheus
from openkms.protocol.app import Receive, RpcApp, RpcHandler, Scope, Send
from openkms.protocol.control import PREFIX as CONTROL_PREFIX
from openkms.protocol.control import ControlApp, ControlHandler
from openkms.readiness import Readiness
from openkms.service.scheduler import SchedulerReport
from openkms.settings import Settings
from openkms.system import SingleNode

log = logging.getLogger("openkms")
# A probe's nonce is 128 random bits, so it never takes a nonce a request will send; the prefix
# tells probes apart in the nonce file.
HEALTH_NONCE_PREFIX = "healthz:"


class OnFirstRequest:
    """An ASGI app made by ``build`` when its first request comes rather than at start: what only
    some requests need (the console's Jinja2 templates and pages, the instance gateway's protobuf
    messages) is imported then, off the event loop (issue 16: ready in under a second)."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()  # two first requests at once make it once

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self._app
        if app is None:
            app = await anyio.to_thread.run_sync(self._made)
        await app(scope, receive, send)

    def _made(self) -> ASGIApp:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            return self._app


class OpenKmsApp:
    def __init__(self, runtime: bootstrap.Runtime, run_scheduler: bool = True) -> None:
        self.runtime = runtime
        self._run_scheduler = run_scheduler
        self._fence: Fence | None = None  # while this process holds the scheduler's lease
        self._fence_epoch = 0
        self._lead_taken = asyncio.Event()
        control = runtime.control
        # [metrics] enabled = false: nothing counted, /metrics not found (benchmarks/metrics_cost.py's baseline).
        self._metrics = prometheus.PrometheusMetrics() if runtime.settings.metrics_enabled else None
        if isinstance(runtime.audit, AuditTrail) and self._metrics is not None:
            runtime.audit.on_failure = self._metrics.audit_write_failed
        handler = RpcHandler(
            runtime.services,
            runtime.nonces,
            runtime.auth_clock,
            runtime.settings.http_max_body_bytes,
            control,
            self._metrics,
        )
        backends = runtime.backends
        assert backends is not None  # bootstrap.build sets it
        self._readiness = Readiness(runtime.store, backends)
        self._live = prometheus.LiveState(
            lambda: [(sid, level.value, failure is None) for sid, level, failure in backends.health()],
            # An app without a scheduler (in-process servers) runs the jobs when its clock moves: it leads.
            runtime.leadership.is_leader if run_scheduler else SingleNode().is_leader,
            runtime.services.clock.now,
            runtime.settings.scheduler_interval,
        )
        self._rpc = RpcApp(handler, offload=runtime.offload, greenlet=runtime.greenlet)
        self._gateway = OnFirstRequest(self._gateway_app)
        self._site = Starlette(
            routes=[
                Route("/healthz", self._healthz),
                Route("/readyz", self._readyz),
                Route("/metrics", self._scrape),
                Mount("/console", app=OnFirstRequest(self._console_app), max_body_size=MAX_FORM_BYTES),
            ],
            lifespan=self._lifespan,
        )
        # Dev mode or [testing] control_api: otherwise the path is not found, as any other.
        self._control: ControlApp | None = None
        if control is not None:
            control_handler = ControlHandler(runtime.services, control, runtime.nonces, runtime.auth_clock)
            self._control = ControlApp(control_handler, offload=runtime.offload)
        # Another worker may have moved the test clock: read again before each request (a stat).
        self._refresh = control.clock.refresh if control is not None else None
        self._reads = runtime.store.request

    def _gateway_app(self) -> ASGIApp:
        from openkms.protocol.gateway.app import GatewayApp, GatewayHandler  # protobuf: OnFirstRequest

        runtime = self.runtime
        gateway = GatewayHandler(
            runtime.services,
            runtime.services.gateway,
            runtime.auth_clock,
            runtime.settings.http_max_body_bytes,
            runtime.control,
            self._metrics,
        )
        return GatewayApp(gateway, offload=runtime.offload, greenlet=runtime.greenlet)

    def _console_app(self) -> ASGIApp:
        from openkms.console.app import ConsoleConfig, create_console  # Jinja2: OnFirstRequest

        runtime = self.runtime
        return create_console(runtime.services, ConsoleConfig(runtime.console_key), offload=runtime.offload)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._route(scope, receive, send)
            return
        with self._reads():  # one check for changes to the data per request, at its first read
            await self._route(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._refresh is not None and scope["type"] == "http":
            self._refresh()
        if scope["type"] == "http" and scope["path"] == "/":
            # The instance gateway's requests name their operation in a header of their own.
            if any(name == b"x-kms-apiname" for name, _ in scope["headers"]):
                await self._gateway(scope, receive, send)
            else:
                await self._rpc(scope, receive, send)
        elif self._control is not None and scope["type"] == "http" and scope["path"].startswith(CONTROL_PREFIX + "/"):
            # Beside the router, as "/" is: the signature covers the path as sent.
            await self._control(scope, receive, send)
        else:
            await self._site(scope, receive, send)

    async def _healthz(self, _request: Request) -> JSONResponse:
        failing = await anyio.to_thread.run_sync(self._failing_components)
        if failing:
            return JSONResponse({"status": "unavailable", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def _readyz(self, _request: Request) -> JSONResponse:
        failures = await anyio.to_thread.run_sync(self._readiness.failures)
        if failures:
            return JSONResponse({"status": "not-ready", "failing": [f.as_dict() for f in failures]}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def _scrape(self, request: Request) -> Response:
        if self._metrics is None:
            return JSONResponse({"status": "not-found", "reason": "metrics are off ([metrics] enabled)"}, 404)
        refused = metrics_refusal(self.runtime.settings, request)
        if refused is not None:
            return refused
        self._metrics.flush()  # this worker's own counts, up to this request; the others' flush on their own
        text = await anyio.to_thread.run_sync(prometheus.exposition, self._live)
        return Response(text, media_type=prometheus.CONTENT_TYPE_LATEST)

    def _failing_components(self) -> list[str]:
        """What every request needs: a read of the database and a claim in the nonce store. The
        probe is a real claim of a fresh nonce, so it fails exactly when a request's would (a full
        disk refuses the insert; a one-worker node refuses once its write-behind backlog is full)."""
        failing: list[str] = []
        try:
            self.runtime.store.ping()
        except Exception:
            log.exception("health check: the database is not reachable")
            failing.append("database")
        try:
            self.runtime.nonces.claim(HEALTH_NONCE_PREFIX + secrets.token_hex(16), self.runtime.auth_clock.now())
        except Exception as exc:
            # One line: a load balancer asks every few seconds.
            log.warning("health check: the nonce store cannot take a claim: %s", exc.__cause__ or exc)
            failing.append("nonce-store")
        return failing

    async def _lease_loop(self) -> None:
        """Take or renew the scheduler's lease every third of it; the fence while this process holds it."""
        leases = self.runtime.leases
        while True:
            try:
                fence = await anyio.to_thread.run_sync(leases.renew)
            except Exception as exc:
                log.warning("scheduler: cannot renew the lease, not leading: %s", exc)
                fence = None
            if (fence is None) != (self._fence is None):
                if fence is None:
                    log.info("scheduler: this process no longer leads the background jobs")
                else:
                    log.info(
                        "scheduler: this process leads the background jobs (%s, epoch %d)", fence.holder, fence.epoch
                    )
            self._fence = fence
            if fence is not None and self._fence_epoch != fence.epoch:
                self._fence_epoch = fence.epoch
                self._lead_taken.set()  # run the jobs now, not an interval later
            await asyncio.sleep(leases.lease_seconds / 3)

    async def _scheduler_loop(self) -> None:
        interval = self.runtime.settings.scheduler_interval
        while True:
            fence = self._fence
            if fence is not None:
                try:
                    if self._refresh is not None:
                        self._refresh()
                    report = await anyio.to_thread.run_sync(self._run_fenced, fence)
                    if self._metrics is not None:
                        self._metrics.scheduler_ran(self.runtime.services.clock.now())
                    if report.rotated or report.purged:
                        log.info("scheduler: rotated %d keys, purged %d keys", len(report.rotated), len(report.purged))
                except errors.LeaseLost:
                    log.warning("scheduler: the lease was lost during a run; the new leader does the rest")
                except Exception:
                    log.exception("scheduler run failed; will retry")
            self._lead_taken.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lead_taken.wait(), interval)

    def _run_fenced(self, fence: Fence) -> SchedulerReport:
        """Every write of the run checks, in its transaction, that this process still leads."""
        with self.runtime.store.fenced(fence):
            return self.runtime.services.scheduler.run_once()

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Any) -> AsyncIterator[None]:
        loops = (self._lease_loop, self._scheduler_loop) if self._run_scheduler else ()
        tasks = [asyncio.create_task(loop()) for loop in loops]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._metrics is not None:
                self._metrics.close()  # the counts still in memory, to this worker's files
            self.runtime.close()


def metrics_refusal(settings: Settings, request: Request) -> JSONResponse | None:
    """None when ``[metrics] access`` lets this client read /metrics, else the refusal."""
    access = settings.metrics_access.lower()
    if access == "open":
        return None
    if access == "token":
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = (settings.metrics_token or "").encode()
        if scheme.lower() == "bearer" and expected and hmac.compare_digest(given.strip().encode(), expected):
            return None
        return JSONResponse(
            {"status": "unauthorized", "reason": "a bearer token is required"},
            status_code=401,
            headers={"www-authenticate": 'Bearer realm="openkms metrics"'},
        )
    if _loopback(request.client.host if request.client else ""):
        return None
    return JSONResponse({"status": "forbidden", "reason": "metrics are served to loopback clients only"}, 403)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(settings: Settings | None = None) -> OpenKmsApp:
    """The uvicorn factory: each worker process builds its own runtime from the environment."""
    settings = settings or Settings.load()
    runtime = bootstrap.build(settings)
    bootstrap.announce(runtime)
    return OpenKmsApp(runtime)
