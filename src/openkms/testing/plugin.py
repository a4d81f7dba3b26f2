"""The pytest plugin (the package's ``pytest11`` entry point): the fixtures ``openkms``, one dev
server for the session, reset before each test that asks for it, and ``openkms_client``, an
``alibabacloud_kms20160120`` client for it. Nothing happens unless a test asks for one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openkms.testing import OpenKms


@pytest.fixture(scope="session")
def _openkms_server() -> Iterator[OpenKms]:
    with OpenKms() as server:
        yield server


@pytest.fixture
def openkms(_openkms_server: OpenKms) -> OpenKms:
    """The session's server, emptied, on real time and without fault rules."""
    _openkms_server.reset()
    return _openkms_server


@pytest.fixture
def openkms_client(openkms: OpenKms) -> Any:
    return openkms.client()
