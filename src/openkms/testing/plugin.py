"""The pytest plugin (the package's ``pytest11`` entry point): the fixtures ``openkms``, one dev
server for the session, reset before each test that asks for it, and ``openkms_client``, an
``alibabacloud_kms20160120`` client for it. Nothing starts unless a test asks for one.

``--openkms-mode process`` (or the ini option ``openkms_mode``) runs the server as a process
instead of a thread of the test process: slower to start, isolated from it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openkms.testing import OpenKms

MODES = ("thread", "process")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("openkms")
    group.addoption("--openkms-mode", choices=MODES, help="run the openkms fixture's server as a thread or a process")
    parser.addini("openkms_mode", "thread (default) or process: how the openkms fixture runs its server")


def _mode(config: pytest.Config) -> str:
    mode = config.getoption("--openkms-mode") or config.getini("openkms_mode") or "thread"
    if mode not in MODES:
        raise pytest.UsageError(f"openkms_mode must be thread or process, not {mode!r}")
    return str(mode)


@pytest.fixture(scope="session")
def _openkms_server(pytestconfig: pytest.Config) -> Iterator[OpenKms]:
    with OpenKms(mode=_mode(pytestconfig)) as server:
        yield server


@pytest.fixture
def openkms(_openkms_server: OpenKms) -> OpenKms:
    """The session's server, emptied, on real time and without fault rules."""
    _openkms_server.reset()
    return _openkms_server


@pytest.fixture
def openkms_client(openkms: OpenKms) -> Any:
    return openkms.client()
