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
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from greenlet import GreenletExit, getcurrent, greenlet

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


# Greenlets kept parked for the next request, per thread (a greenlet belongs to its thread). Each
# new greenlet costs an mmap and a munmap (Python 3.11 gives it a frame stack of its own): about
# 10 us, more than three round trips of switches; a parked one is switched into for 0.3 us.
_PARKED_MAX = 64
_parked = threading.local()


# What a handler's greenlet hands back when its function has returned or raised; the outcome
# itself it leaves on the greenlet, for the caller to take: a value handed through a switch stays
# referenced by the switch's call until the next one (a parked greenlet would keep a response, or
# an exception and its frames, alive for as long as it waits).
_FINISHED = object()


class _LoopGreenlet(greenlet):  # type: ignore[misc]  # greenlet's class is untyped for subclassing
    """A handler's greenlet; its parent is the loop's. For each call it takes the calling task's
    context, as inline code would: what the handler sets (audit notes) the task sees, and the
    reverse. Between calls it waits, parked, for the next one."""

    def __init__(self, parent: greenlet) -> None:
        super().__init__(self._serve, parent)
        self.result: Any = None
        self.failure: BaseException | None = None

    def _serve(self) -> object:
        # Started at once to wait here: a call's arguments then come back from a switch, and
        # none is held by the start of the greenlet for as long as it lives.
        function, args = self.parent.switch()
        while True:
            try:
                self.result = function(*args)
            except GreenletExit:
                raise  # dropped while it waited (nobody will take its outcome): it ends, unparked
            except BaseException as exc:  # handed to the caller, which raises it
                self.failure = exc
            del function, args  # nothing of this call kept while parked
            self.gr_context = None
            parked: list[_LoopGreenlet] = _parked.greenlets
            if len(parked) >= _PARKED_MAX:
                return _FINISHED  # ends: the caller takes the outcome all the same
            parked.append(self)
            function, args = self.parent.switch(_FINISHED)

    def outcome(self) -> Any:
        """The call's result, or its exception raised; neither kept here."""
        result, failure = self.result, self.failure
        self.result = self.failure = None
        if failure is not None:
            try:
                raise failure
            finally:  # the traceback holds this frame: no cycle back to the exception
                del failure
        return result


def _take(parent: greenlet) -> _LoopGreenlet:
    try:
        parked: list[_LoopGreenlet] = _parked.greenlets
    except AttributeError:
        parked = _parked.greenlets = []
    while parked:
        child = parked.pop()
        if child.parent is parent:
            return child
    child = _LoopGreenlet(parent)
    child.switch()
    return child


async def in_greenlet(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` on the event loop, in a greenlet of its own: every awaitable it hands to
    ``await_only`` is awaited here, and its result (or exception) handed back."""
    current = getcurrent()
    child = _take(current)
    child.gr_context = current.gr_context
    result: Any = child.switch(function, args)
    while result is not _FINISHED:
        try:
            value = await result
        except BaseException:
            result = child.throw(*sys.exc_info())
        else:
            result = child.switch(value)
    return child.outcome()  # type: ignore[no-any-return]


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
