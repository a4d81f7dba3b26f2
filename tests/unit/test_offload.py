"""The greenlet bridge and the worker threads (openkms/offload.py)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref

import pytest
from greenlet import getcurrent, greenlet

from openkms import offload
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


def test_a_greenlet_is_used_again_for_the_next_call_with_that_calls_context_only() -> None:
    """A new greenlet costs an mmap and a munmap: a finished one is parked and serves the next
    call. It must not carry the previous call's context or arguments into it."""

    class Argument:
        pass

    def handler(argument: Argument, note: str) -> tuple[greenlet, str]:
        seen = NOTE.get()
        NOTE.set(note)
        await_only(asyncio.sleep(0))
        return getcurrent(), seen

    async def request(note: str) -> tuple[greenlet, str, str]:
        argument = Argument()
        kept = weakref.ref(argument)
        where, seen = await in_greenlet(handler, argument, note)
        del argument
        assert kept() is None  # the parked greenlet holds nothing of the call
        return where, seen, NOTE.get()

    async def two_requests() -> list[tuple[greenlet, str, str]]:
        first = await asyncio.create_task(request("first"))
        second = await asyncio.create_task(request("second"))
        return [first, second]

    (first, seen_first, after_first), (second, seen_second, after_second) = run_loop(two_requests())
    assert first is second
    assert (seen_first, after_first) == ("", "first")
    assert (seen_second, after_second) == ("", "second")  # not the first task's note


def test_a_parked_greenlet_serves_again_after_a_failure_and_a_cancellation() -> None:
    def fail() -> None:
        raise LookupError("gone")

    def wait_forever() -> None:
        await_only(asyncio.Event().wait())

    def where() -> greenlet:
        return getcurrent()

    async def scenario() -> tuple[greenlet, greenlet, greenlet]:
        with pytest.raises(LookupError):
            await in_greenlet(fail)
        after_failure = await in_greenlet(where)
        waiting = asyncio.ensure_future(in_greenlet(wait_forever))
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        after_cancel = await in_greenlet(where)
        return after_failure, after_cancel, await in_greenlet(where)

    after_failure, after_cancel, again = run_loop(scenario())
    assert after_failure is after_cancel is again


def test_a_parked_greenlet_keeps_neither_the_result_nor_the_exception_of_its_last_call() -> None:
    class Outcome(Exception):
        pass

    def succeed() -> Outcome:
        return Outcome()

    def fail() -> None:
        raise Outcome()

    async def scenario() -> tuple[int, bool, bool]:
        returned = weakref.ref(await in_greenlet(succeed))
        try:
            await in_greenlet(fail)
        except Outcome as exc:
            raised = weakref.ref(exc)
        return len(offload._parked.greenlets), returned() is None, raised() is None

    assert run_loop(scenario()) == (1, True, True)


def test_more_calls_at_once_than_are_parked_all_finish_and_at_most_the_limit_is_kept() -> None:
    calls = offload._PARKED_MAX * 2

    def handler(n: int) -> int:
        await_only(asyncio.sleep(0))
        return n

    async def scenario() -> tuple[list[int], int]:
        results = await asyncio.gather(*(in_greenlet(handler, n) for n in range(calls)))
        return list(results), len(offload._parked.greenlets)

    results, parked = run_loop(scenario())
    assert results == list(range(calls))
    assert parked == offload._PARKED_MAX


def test_a_greenlet_killed_while_its_call_waits_ends_and_is_not_parked() -> None:
    """greenlet kills a greenlet dropped while it waits by raising GreenletExit in it (what
    ``throw()`` does here). Its call must see it, and the greenlet must end rather than park itself:
    nobody is left to take its outcome or to switch back into it."""
    seen: list[str] = []

    def waits() -> None:
        try:
            await_only(asyncio.sleep(0))
        except BaseException as exc:
            seen.append(type(exc).__name__)
            raise

    def scenario() -> tuple[bool, int]:
        child = offload._take(getcurrent())
        waiting = child.switch(waits, ())  # the call waits, as in await_only
        waiting.close()
        child.throw()
        return bool(child.dead), len(offload._parked.greenlets)

    outcome: list[tuple[bool, int]] = []
    thread = threading.Thread(target=lambda: outcome.append(scenario()))  # a thread's own parked list
    thread.start()
    thread.join()
    assert seen == ["GreenletExit"]
    assert outcome == [(True, 0)]
