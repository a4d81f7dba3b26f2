"""The pytest plugin (the package's ``pytest11`` entry point): the fixtures ``openkms``, one dev
server for the session, reset before each test that asks for it, and ``openkms_client``, an
``alibabacloud_kms20160120`` client for it. Nothing starts unless a test asks for one.

``--openkms-mode process`` (or the ini option ``openkms_mode``) runs the server as a process
instead of a thread of the test process: slower to start, isolated from it. ``--openkms-seed FILE``
(or the ini option ``openkms_seed``, relative to the ini file) starts it from a seed file
(docs/SEED.md), and the reset before each test returns to that seed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openkms.testing import OpenKms

MODES = ("thread", "process")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("openkms")
    group.addoption("--openkms-mode", choices=MODES, help="run the openkms fixture's server as a thread or a process")
    parser.addini("openkms_mode", "thread (default) or process: how the openkms fixture runs its server")
    group.addoption("--openkms-seed", metavar="FILE", help="a seed file the openkms fixture's server starts from")
    parser.addini("openkms_seed", "a seed file (docs/SEED.md) the openkms fixture's server starts from and resets to")


def _mode(config: pytest.Config) -> str:
    mode = config.getoption("--openkms-mode") or config.getini("openkms_mode") or "thread"
    if mode not in MODES:
        raise pytest.UsageError(f"openkms_mode must be thread or process, not {mode!r}")
    return str(mode)


def _seed(config: pytest.Config) -> Path | None:
    given = config.getoption("--openkms-seed")
    if given:
        return Path(given).resolve()
    ini = config.getini("openkms_seed")
    if not ini:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / str(ini)).resolve()


@pytest.fixture(scope="session")
def _openkms_server(pytestconfig: pytest.Config) -> Iterator[OpenKms]:
    with OpenKms(mode=_mode(pytestconfig), seed=_seed(pytestconfig)) as server:
        yield server


@pytest.fixture
def openkms(_openkms_server: OpenKms) -> OpenKms:
    """The session's server, back to its seed (or emptied), on real time and without fault rules."""
    _openkms_server.reset()
    return _openkms_server


@pytest.fixture
def openkms_client(openkms: OpenKms) -> Any:
    return openkms.client()
