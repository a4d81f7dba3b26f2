"""``run_to_end``: the scheduler's loops hand their work to the request threads; a cancelled loop
(a stopping server) waits for the work under way to end, so that nothing it uses is closed under it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from openkms.offload import run_to_end
from tests.loops import run_loop


def test_returns_what_the_function_returns() -> None:
    assert run_loop(run_to_end(lambda a, b: a + b, 2, 3)) == 5


def test_a_cancelled_caller_waits_for_the_function_to_end() -> None:
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []

    def job() -> str:
        started.set()
        release.wait(10)
        ended.append("job")
        return "done"

    async def scenario() -> None:
        task = asyncio.create_task(run_to_end(job))
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=0.2)
        assert not done  # still waiting for the job, which has not ended
        assert ended == []
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended == ["job"]

    run_loop(scenario())
