"""A key store that cannot be opened (here: a real SoftHSM2 token and a wrong PIN) is retried
with an exponential, capped backoff on the injected clock, logged once when it fails and once
when it recovers, and answers 503 in between without touching the token."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from openkms.crypto import pkcs11 as hsm
from openkms.crypto.lazy import LazyBackend
from openkms.domain import errors
from openkms.domain.ports import CryptoBackend
from openkms.system import ManualClock
from tests.hsm_support import extra_token, requires_softhsm

pytestmark = requires_softhsm
PIN = "lazy-user-pin-5309"
WRONG = "wrong-pin-8675"


class Attempts:
    """The connect function the composition root gives LazyBackend, counting its calls; the PIN
    is read on every attempt, as the real one reads it from the environment or a file."""

    def __init__(self, label: str) -> None:
        self.config = extra_token(label, PIN)
        self.pin = WRONG
        self.count = 0

    def __call__(self) -> CryptoBackend:
        self.count += 1
        return hsm.Pkcs11Backend(replace(self.config, pin=self.pin), store_id="kst-pin")


def failing(lazy: LazyBackend) -> str:
    with pytest.raises(errors.BackendUnavailable) as caught:
        lazy.random_bytes(4)
    return caught.value.message


def test_a_wrong_pin_is_retried_with_a_capped_exponential_backoff(caplog: pytest.LogCaptureFixture) -> None:
    attempts = Attempts("openkms-lazy-backoff")
    clock = ManualClock(1_000_000.0)
    lazy = LazyBackend("kst-pin", attempts, clock=clock, retry_seconds=5, retry_max_seconds=300)
    caplog.set_level(logging.DEBUG, logger="openkms")

    message = failing(lazy)
    assert "kst-pin" in message
    assert "Login" in message
    assert attempts.count == 1
    # Then 5 s, 10, 20, 40, 80, 160, and 300 s from there on: requests in between never reach the token.
    for delay in (5, 10, 20, 40, 80, 160, 300, 300):
        before = attempts.count
        clock.advance(delay - 0.5)
        for _ in range(3):
            failing(lazy)
        assert attempts.count == before, f"retried before {delay} s"
        clock.advance(0.5)
        failing(lazy)
        assert attempts.count == before + 1, f"no attempt after {delay} s"

    warnings = [r for r in caplog.records if r.name.startswith("openkms") and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once, not on every attempt
    assert "kst-pin" in warnings[0].getMessage()

    attempts.pin = PIN  # the operator fixes the PIN: the next attempt after the pause succeeds
    failing(lazy)
    assert attempts.count == 9
    clock.advance(300)
    assert len(lazy.random_bytes(4)) == 4
    assert attempts.count == 10
    recovered = [r.getMessage() for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(recovered) == 1
    assert "kst-pin" in recovered[0]
    lazy.random_bytes(4)
    assert attempts.count == 10
    for record in caplog.records:
        assert PIN not in record.getMessage()
        assert WRONG not in record.getMessage()
    lazy.close()


def test_a_clock_set_back_does_not_stall_the_retry() -> None:
    attempts = Attempts("openkms-lazy-clock")
    clock = ManualClock(2_000_000.0)
    lazy = LazyBackend("kst-pin", attempts, clock=clock, retry_seconds=5, retry_max_seconds=300)
    failing(lazy)
    clock.advance(-3600)  # the wall clock stepped back: waiting an hour more would be wrong
    failing(lazy)
    assert attempts.count == 2
    attempts.pin = PIN
    clock.advance(10)
    assert len(lazy.random_bytes(2)) == 2
    lazy.close()
