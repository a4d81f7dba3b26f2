"""KeyPool: its first fill waits (the start's CPU is the first requests'), unless a pair is taken."""

from __future__ import annotations

import threading

from openkms.crypto.keypool import KeyPair, KeyPool

HOUR = 3600.0  # a delay no test reaches: the fill must be started by something else


class Generator:
    """Counts the pairs made, and by which thread: the pool's or the caller's."""

    def __init__(self) -> None:
        self.by_pool = 0
        self.by_caller = 0
        self.pool_made = threading.Event()

    def __call__(self, spec: str) -> KeyPair:
        if threading.current_thread().name == "openkms-keypool":
            self.by_pool += 1
            self.pool_made.set()
        else:
            self.by_caller += 1
        return (b"private:" + spec.encode(), b"public:" + spec.encode())


def test_a_pool_closed_before_its_delay_made_nothing() -> None:
    made = Generator()
    pool = KeyPool(made, ["RSA_2048"], size=2, fill_after=HOUR)
    pool.close()  # wakes the waiting thread, which stops
    assert (made.by_pool, pool.ready("RSA_2048")) == (0, 0)


def test_the_first_take_starts_the_fill_at_once() -> None:
    made = Generator()
    pool = KeyPool(made, ["RSA_2048"], size=1, fill_after=HOUR)
    try:
        assert pool.take("RSA_2048") == (b"private:RSA_2048", b"public:RSA_2048")
        assert made.by_caller == 1  # nothing was ready: made on demand
        assert made.pool_made.wait(timeout=30), "the take did not wake the fill"
    finally:
        pool.close()
    assert made.by_pool == 1


def test_without_a_delay_the_pool_fills_at_once() -> None:
    made = Generator()
    pool = KeyPool(made, ["RSA_2048"], size=1, fill_after=0)
    try:
        assert made.pool_made.wait(timeout=30)
    finally:
        pool.close()
    assert made.by_caller == 0
