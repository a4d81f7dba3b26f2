from __future__ import annotations

import pytest

from tests.e2e.clients import MODES, Kms
from tests.servers import InProcessServer


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def kms(server: InProcessServer, mode: str) -> Kms:
    """A client of the given SDK mode, in a fresh account of its own (region cn-hangzhou)."""
    ak, secret, _ = server.new_account()
    return Kms(mode, server.endpoint, ak, secret)


@pytest.fixture
def kms_factory(server: InProcessServer, mode: str):  # type: ignore[no-untyped-def]
    """Clients of this test's SDK mode in one fresh account, for any region."""
    ak, secret, _ = server.new_account()

    def make(region: str = "cn-hangzhou") -> Kms:
        return Kms(mode, server.endpoint, ak, secret, region)

    return make
