"""What a server's start does not import: packages and modules that only some starts or some
requests need, kept off the path of ``openkms serve --dev`` (issue 16: ready in under a second;
``benchmarks/dev_start.py``). The start is the command's modules, then a dev server's first-start
work and uvicorn's configuration loaded as a worker loads it (its protocols, the application), its
lifespan started and its first answer (a /healthz)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

# module (and its submodules): who needs it instead
DEFERRED = {
    "alembic": "a database behind the head revision (storage/migrate.py)",
    "jsonschema": "a server given a seed file (seedfile/__init__.py)",
    "pkcs11": "the first use of a PKCS#11 token (crypto/pkcs11_keys.py)",
    "jinja2": "the console's first request (asgi.OnFirstRequest)",
    "openkms.console.app": "the console's first request (asgi.OnFirstRequest)",
    "google.protobuf": "the instance gateway's first request (asgi.OnFirstRequest)",
    "openkms.protocol.gateway": "the instance gateway's first request (asgi.OnFirstRequest)",
    "sqlalchemy.dialects.postgresql": "a PostgreSQL database (storage/factory.py, bootstrap._postgres_nonces)",
    "openkms.storage.postgres": "a PostgreSQL database (storage/factory.py)",
    "openkms.storage.pg_nonces": "a PostgreSQL database (bootstrap._postgres_nonces)",
    "openkms.storage.pg_claims": "a PostgreSQL database (its nonce claims, storage/pg_nonces.py)",
    "psycopg": "a PostgreSQL database (SQLAlchemy's driver)",
    "websockets": "a request that asks for a WebSocket upgrade (cli/http_limits.websockets_on_upgrade)",
    "uvicorn.protocols.websockets": "a WebSocket upgrade request (cli/http_limits.websockets_on_upgrade)",
    "openkms.cli.audit": "the other commands than serve (cli/main.build_parser)",
    "openkms.cli.dev_control": "the other commands than serve (cli/main.build_parser)",
    "openkms.cli.ram": "the other commands than serve (cli/main.build_parser)",
    "openkms.cli.remote": "the commands that call a running server (cli/main.build_parser)",
    "openkms.cli.secret": "the other commands than serve (cli/main.build_parser)",
    "openkms.domain.seed": "a seed loaded, reset to or exported (bootstrap/control.py), --deterministic material",
    "openkms.seedfile": "a server given a seed (cli/serve.py, bootstrap/control.py), an export (protocol/control.py)",
    "openkms.service.seeding": "a seed loaded, reset to or exported (DevControl.seeding)",
    "anyio._backends": "a request for the console or the gateway, a fault's delay (anyio's sleep)",
    "cryptography.x509": "a server that serves HTTPS (cli/serve.py), an issued client key (crypto/client_keys.py)",
    "openkms.cli.tls": "a server that serves HTTPS (cli/serve.py)",
}

_START = """
import asyncio
import sys
from pathlib import Path
import openkms.cli.main
from openkms import asgi, bootstrap
from openkms.cli import serve
from openkms.settings import Settings

args = openkms.cli.main.parse(["serve", "--dev"])  # the command line as a server's start parses it
assert args.func is serve.run and args.dev
settings = Settings.load(env={{}}, dev=True, data_dir=Path({data_dir!r}){settings})
bootstrap.prepare(settings)
serve._environment_for_workers(settings)
config = serve.server_config(settings)
config.load()  # as a worker does: the protocols' modules, then the application
app = config.loaded_app
assert isinstance(app, asgi.OpenKmsApp)


async def served() -> list[dict]:  # the lifespan started (its lease and scheduler loops), one /healthz
    lifespan: asyncio.Queue = asyncio.Queue()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    running = asyncio.create_task(app({{"type": "lifespan", "asgi": {{"version": "3.0"}}}}, lifespan.get, send))
    await lifespan.put({{"type": "lifespan.startup"}})
    while not sent:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.05)  # the loops' first turns
    request = {{"type": "http.request", "body": b"", "more_body": False}}
    scope = {{"type": "http", "method": "GET", "path": "/healthz", "raw_path": b"/healthz", "query_string": b"",
             "headers": [], "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80),
             "client": ("127.0.0.1", 1), "http_version": "1.1", "asgi": {{"version": "3.0"}}}}

    async def receive() -> dict:
        return request

    await app(scope, receive, send)
    await lifespan.put({{"type": "lifespan.shutdown"}})
    await running
    return sent


answered = asyncio.run(served())
assert [m["status"] for m in answered if m["type"] == "http.response.start"] == [200], answered
print("\\n".join(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The modules of a process that has done a dev server's start, in a process of its own."""
    data_dir = tmp_path_factory.mktemp("dev") / "data"
    program = _START.format(data_dir=str(data_dir), settings="")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert Path(data_dir, "root.key").exists()  # the start did happen
    return set(done.stdout.split())


@pytest.mark.parametrize("module", sorted(DEFERRED))
def test_the_start_does_not_import(module: str, started: set[str]) -> None:
    loaded = sorted(m for m in started if m == module or m.startswith(module + "."))
    assert loaded == [], f"{module} is imported at start; only {DEFERRED[module]} needs it"


@pytest.mark.parametrize("module", sorted(DEFERRED))
def test_each_deferred_module_exists(module: str) -> None:
    """Each name above is a module that can be imported: a misspelt one would pass for ever."""
    assert importlib.util.find_spec(module) is not None


# The test kit's server in a thread of the test process (openkms.testing.OpenKms) starts the same
# way, without the command line; it calls the control API through cli/remote.py's client.
_KIT_START = """
import sys
from openkms.testing import OpenKms
with OpenKms():  # started, answered /healthz
    pass
print("\\n".join(sorted(sys.modules)))
"""
KIT_USES = {"openkms.cli.remote"}


@pytest.fixture(scope="module")
def kit_started() -> set[str]:
    done = subprocess.run([sys.executable, "-c", _KIT_START], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("module", sorted(set(DEFERRED) - KIT_USES))
def test_the_test_kit_s_start_does_not_import(module: str, kit_started: set[str]) -> None:
    loaded = sorted(m for m in kit_started if m == module or m.startswith(module + "."))
    assert loaded == [], f"{module} is imported by the test kit's start; only {DEFERRED[module]} needs it"


@pytest.fixture(scope="module")
def started_without_metrics(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    data_dir = tmp_path_factory.mktemp("no-metrics") / "data"
    program = _START.format(data_dir=str(data_dir), settings=", metrics_enabled=False")
    env = {**os.environ, "OPENKMS_METRICS_ENABLED": "false"}  # the worker's settings come from the environment
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, env=env)
    return set(done.stdout.split())


@pytest.mark.parametrize("module", ["prometheus_client", "openkms.metrics.prometheus"])
def test_a_start_without_metrics_does_not_import_prometheus(module: str, started_without_metrics: set[str]) -> None:
    """[metrics] enabled = false: prometheus-client is not imported (asgi._metrics); with metrics
    on, the start does import it (the other fixture)."""
    assert module not in started_without_metrics
    assert any(m.split(".")[0] == "openkms" for m in started_without_metrics)  # the start did happen
