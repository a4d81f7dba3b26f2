"""Where a blocking handler runs: a thread of one pool per process, with the request's context;
the application's probes and scheduler loops use it too.

Not anyio's ``to_thread``: its capacity limiter, cancel scope and queue cost more per request
than an executor's hand-off, and on PostgreSQL every request is handed off (measured: the server
CPU per signed Encrypt on PostgreSQL fell to 0.65-0.88 of what it was with anyio, in four rounds
taking turns).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
MAX_THREADS = 40  # anyio's default limit, which the handlers ran under before


@functools.cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="openkms-request")


async def run_blocking(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a worker thread. The request's context goes with it: its read scope
    (storage/sql/changes.py) and its audit notes are context variables."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_executor(), context.run, function, *args)


async def run_to_end(function: Callable[..., T], *args: object) -> T:
    """``run_blocking``, except that a caller cancelled while ``function`` runs waits for it to end
    before the cancellation goes on (as anyio's ``to_thread`` did): a stopping server's lifespan
    closes nothing a scheduler job in a thread is still using."""
    future = asyncio.ensure_future(run_blocking(function, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
