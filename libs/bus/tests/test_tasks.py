"""Stopping background tasks, including one that ignores its first cancellation."""

import asyncio

import pytest

from icc_bus import cancel_and_wait


async def test_a_loop_that_dropped_its_cancellation_still_stops() -> None:
    # What `asyncio.wait_for` does on Python 3.11 when the cancellation lands as the
    # awaited call finishes: the loop sees no CancelledError and goes on.
    dropped = 0

    async def loop() -> None:
        nonlocal dropped
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if dropped == 0:
                    dropped += 1
                    continue
                raise

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.02)
    await asyncio.wait_for(cancel_and_wait(task, again_after_s=0.05), 5)
    assert task.cancelled() and dropped == 1


async def test_a_failure_of_the_task_is_raised_and_the_others_still_stop() -> None:
    async def fails() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    other = asyncio.create_task(asyncio.sleep(10))
    failing = asyncio.create_task(fails())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait(failing, other)
    assert other.cancelled()
