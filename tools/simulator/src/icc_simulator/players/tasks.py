"""Background work of one player (a crew's job, a dispatcher's close): started without
waiting, counted in the run's errors when it fails, cancelled together at the end."""

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from icc_simulator.world.stats import Stats

log = logging.getLogger(__name__)


@dataclass
class Background:
    stats: Stats
    # Counted as `{what}:{error type}` in the run's errors, e.g. `unit-task:KeyError`.
    what: str
    # Logged with the error when a task fails.
    failure: str
    _tasks: set["asyncio.Task[Any]"] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.stats.error(f"{self.what}:{type(exc).__name__}")
            log.warning(self.failure, extra={"error": repr(exc)})

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
