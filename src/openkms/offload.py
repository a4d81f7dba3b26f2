"""Where a request's blocking work runs: in a worker thread, or in a greenlet on the event loop.

The threads are one pool per process (``run_blocking``), with the request's context copied into
them. Not anyio's ``to_thread``: its capacity limiter, cancel scope and queue cost more per request
than an executor's hand-off (measured on PostgreSQL: the server CPU per signed Encrypt fell to
0.65-0.88 of what it was with anyio, in four rounds taking turns).

On PostgreSQL a request's handler, synchronous code, runs in a greenlet on the event loop
(``in_greenlet``) instead of a thread: its one round trip, the nonce claim, is a coroutine
(storage/pg_claims.py) that the handler waits for with ``await_only``. The greenlet switches to the
loop, which awaits the claim among every other request's, and switches back with its result. Any
other call that would block on the database (a row not remembered, a write) goes through
``blocking``: in such a greenlet it runs in a worker thread, awaited the same way; anywhere else
it is simply called. So the loop never waits on the database, and a request costs no thread
hand-off unless it needs one. The pattern is SQLAlchemy's asyncio layer's (``greenlet_spawn`` and
``await_only``), written here because the protocol may not import SQLAlchemy.

A greenlet that waits must hold no ``threading.Lock`` another request may take: that request,
on the same thread, would block the loop while the holder can only resume on it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from greenlet import getcurrent, greenlet

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


class _LoopGreenlet(greenlet):  # type: ignore[misc]  # greenlet's class is untyped for subclassing
    """A handler's greenlet; its parent is the loop's. It shares the task's context, as inline
    code would: what the handler sets (audit notes) the task sees, and the reverse."""

    def __init__(self, function: Callable[..., Any], parent: greenlet) -> None:
        super().__init__(function, parent)
        self.gr_context = parent.gr_context


async def in_greenlet(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` on the event loop, in a greenlet of its own: every awaitable it hands to
    ``await_only`` is awaited here, and its result (or exception) handed back."""
    child = _LoopGreenlet(function, getcurrent())
    result: Any = child.switch(*args)
    while not child.dead:
        try:
            value = await result
        except BaseException:
            result = child.throw(*sys.exc_info())
        else:
            result = child.switch(value)
    return result  # type: ignore[no-any-return]


def in_loop_greenlet() -> bool:
    """Whether this code runs in a greenlet of ``in_greenlet`` (so may use ``await_only``)."""
    return type(getcurrent()) is _LoopGreenlet


def await_only(awaitable: Awaitable[T]) -> T:
    """From synchronous code in a greenlet of ``in_greenlet``: the awaitable's result, awaited by
    the loop while this greenlet waits."""
    current = getcurrent()
    if type(current) is not _LoopGreenlet:
        raise RuntimeError("await_only outside a greenlet of in_greenlet")
    return current.parent.switch(awaitable)  # type: ignore[no-any-return]


def blocking(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)``, a call that may wait on another server: in a greenlet of
    ``in_greenlet`` it runs in a worker thread (the loop goes on meanwhile); elsewhere here."""
    current = getcurrent()
    if type(current) is not _LoopGreenlet:
        return function(*args)
    return current.parent.switch(run_blocking(function, *args))  # type: ignore[no-any-return]
