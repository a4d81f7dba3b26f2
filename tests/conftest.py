from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import InProcessServer, inprocess_server

VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """One in-process openkms for the session; tests isolate themselves with fresh accounts."""
    with inprocess_server(tmp_path_factory.mktemp("openkms") / "data") as srv:
        yield srv


@pytest.fixture(autouse=True)
def _server_clock_restored(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that moves the shared server's clock must not move it for the tests after it."""
    if "server" not in request.fixturenames:
        yield
        return
    srv: InProcessServer = request.getfixturevalue("server")
    before = srv.clock.offset
    yield
    srv.clock.reset(before)
