"""LazyBackend passes every operation of the crypto port to the backend it connects, without a
method of its own for each; capabilities and close never connect."""

from __future__ import annotations

from typing import Any

import pytest

from openkms.crypto.lazy import LazyBackend
from openkms.domain import errors
from openkms.domain.algorithms import Capabilities
from openkms.domain.ports import AsymmetricCrypto, BackendLifecycle, CryptoBackend, KeyWrapping, SymmetricCrypto
from openkms.system import ManualClock

OPERATIONS = sorted(
    name
    for port in (SymmetricCrypto, AsymmetricCrypto, KeyWrapping, BackendLifecycle)
    for name in vars(port)
    if not name.startswith("_") and name not in ("capabilities", "close")
)


class Recorder:
    """Stands for a connected backend: answers every operation with its name and arguments."""

    def __init__(self) -> None:
        self.closed = False

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: (name, args, kwargs)

    def close(self) -> None:
        self.closed = True


def test_the_ports_combine_into_the_crypto_backend() -> None:
    members = {name for name in vars(CryptoBackend) if not name.startswith("_")}
    assert members == set()  # CryptoBackend adds nothing of its own: it is the sum of the small ports
    assert set(OPERATIONS) >= {"encrypt", "sign", "import_material", "discard", "random_bytes"}


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_runs_on_the_connected_backend(name: str) -> None:
    connected = Recorder()
    lazy = LazyBackend("kst", lambda: connected, ManualClock(0.0))  # type: ignore[arg-type, return-value]
    assert getattr(lazy, name)(1, b"two", three=3) == (name, (1, b"two"), {"three": 3})
    lazy.close()
    assert connected.closed


def test_capabilities_and_close_never_connect() -> None:
    def unreachable() -> Any:
        raise AssertionError("connected")

    gaps = Capabilities(specs={"EC_SM2": "no SM2 here"})
    lazy = LazyBackend("kst", unreachable, ManualClock(0.0), capabilities=gaps)
    assert lazy.capabilities() is gaps
    lazy.close()
    assert LazyBackend("kst", unreachable, ManualClock(0.0)).capabilities() == Capabilities()


def test_what_is_not_an_operation_is_not_there() -> None:
    lazy = LazyBackend("kst", Recorder, ManualClock(0.0))  # type: ignore[arg-type]
    assert not hasattr(lazy, "encrypt_everything")
    assert not hasattr(lazy, "token_label")
    with pytest.raises(AttributeError, match="encrypt_everything"):
        lazy.encrypt_everything()  # type: ignore[attr-defined]


def test_a_store_that_does_not_connect_answers_unavailable_but_still_states_its_capabilities() -> None:
    def refuse() -> Any:
        raise errors.BackendUnavailable("the token is not there")

    gaps = Capabilities(specs={"Aliyun_SM4": "no SM4 here"})
    lazy = LazyBackend("kst-down", refuse, ManualClock(0.0), capabilities=gaps)
    with pytest.raises(errors.BackendUnavailable, match="kst-down"):
        lazy.random_bytes(8)
    assert lazy.capabilities().specs == {"Aliyun_SM4": "no SM4 here"}
