"""The greenlet bridge and the worker threads (openkms/offload.py)."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from openkms.offload import await_only, blocking, in_greenlet, in_loop_greenlet, run_blocking
from tests.loops import run_loop

NOTE: contextvars.ContextVar[str] = contextvars.ContextVar("offload_test_note", default="")


def test_a_function_in_a_greenlet_awaits_through_the_loop_and_returns_its_result() -> None:
    async def double(n: int) -> int:
        await asyncio.sleep(0)
        return 2 * n

    def handler(n: int) -> tuple[int, bool]:
        return await_only(double(n)) + await_only(double(1)), in_loop_greenlet()

    assert run_loop(in_greenlet(handler, 20)) == (42, True)
    assert in_loop_greenlet() is False


def test_an_awaitable_that_fails_raises_in_the_greenlet_where_it_can_be_handled() -> None:
    async def fail() -> None:
        raise LookupError("gone")

    def handler() -> str:
        try:
            await_only(fail())
        except LookupError as exc:
            return f"handled {exc}"
        return "not raised"

    def unhandled() -> None:
        await_only(fail())

    assert run_loop(in_greenlet(handler)) == "handled gone"
    with pytest.raises(LookupError):
        run_loop(in_greenlet(unhandled))


def test_await_only_outside_a_greenlet_is_refused() -> None:
    async def nothing() -> None:
        return None

    awaitable = nothing()
    with pytest.raises(RuntimeError):
        await_only(awaitable)
    awaitable.close()


def test_blocking_runs_in_a_worker_thread_from_a_greenlet_and_here_elsewhere() -> None:
    def where() -> str:
        return threading.current_thread().name

    assert blocking(where) == threading.current_thread().name
    assert run_loop(in_greenlet(blocking, where)).startswith("openkms-request")


def test_the_greenlet_shares_the_tasks_context_and_the_thread_gets_a_copy() -> None:
    def handler() -> str:
        NOTE.set("set in the handler")
        return blocking(NOTE.get)

    async def request() -> tuple[str, str]:
        in_thread = await in_greenlet(handler)
        return in_thread, NOTE.get()

    assert run_loop(request()) == ("set in the handler", "set in the handler")


def test_the_loop_goes_on_while_a_greenlet_waits_for_a_blocking_call() -> None:
    """A blocking call that waits on an event only the loop sets: it finishes only if the loop
    runs meanwhile (called on the loop itself, it would wait for ever: the test's timeout)."""
    released = threading.Event()

    def wait_for_the_loop() -> bool:
        return released.wait(timeout=30)

    async def scenario() -> bool:
        waiting = asyncio.ensure_future(in_greenlet(blocking, wait_for_the_loop))
        for _ in range(3):  # the loop is free: the greenlet starts its call, and this goes on
            await asyncio.sleep(0)
        assert not waiting.done()
        released.set()
        return await waiting

    assert run_loop(scenario()) is True


def test_run_blocking_runs_in_a_worker_thread_with_the_requests_context() -> None:
    async def request() -> tuple[str, str]:
        NOTE.set("the request's")
        return await run_blocking(lambda: (threading.current_thread().name, NOTE.get()))

    name, note = run_loop(request())
    assert name.startswith("openkms-request")
    assert note == "the request's"
