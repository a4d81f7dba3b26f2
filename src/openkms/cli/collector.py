"""The cyclic garbage collector, paused while a command imports its modules.

An import makes classes, functions and dicts by the hundred thousand and hardly any garbage, yet
every 700 new container objects set off a collection of the youngest generation, and those
collections passed their survivors on until full ones ran: about 70 ms of CPU, a tenth of
``openkms serve --dev``'s start (issue 16, benchmarks/dev_start.py). Reference counting still
frees everything that is not in a cycle; a cycle made while paused is collected once resumed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside; the collector as it was after (left off if it was off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
