"""Stopping a service's background tasks."""

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(*tasks: "asyncio.Task[Any]", again_after_s: float = 1.0) -> None:
    """Cancels the tasks and waits until each has ended, cancelling again one that
    still runs after `again_after_s`.

    Once is not always enough: on Python 3.11, `asyncio.wait_for` (nats-py uses it
    for requests and `next_msg`) drops a cancellation that lands as the awaited call
    finishes, and a loop around it then runs on. A stop waiting for such a task
    waited forever. What a task raises other than its cancellation propagates."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        while not task.done():
            await asyncio.wait([task], timeout=again_after_s)
            task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
