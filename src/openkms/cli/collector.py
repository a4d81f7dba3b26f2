"""The cyclic garbage collector around the imports of ``openkms serve``.

Importing the server makes classes, functions and dicts by the hundred thousand and hardly any
garbage, yet every 700 new container objects set off a collection, and every later collection of
the older generations walked them all again, while the server started and while it served. So the
command's start imports with the collector off, then freezes what it made (``gc.freeze``: kept
out of every later collection, as for a process about to fork) and turns it on again
(benchmarks/dev_start.py; issue 16, ready in under a second).

Only for a process that has done nothing but import: a cycle of garbage made before the freeze is
never collected. So not in a process that has run other code (a test suite calling the command
line, or the test kit in a test process).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_after() -> Iterator[None]:
    """No cyclic collection inside; after, what the process holds frozen and the collector as it
    was (left off if it was off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        gc.enable()
