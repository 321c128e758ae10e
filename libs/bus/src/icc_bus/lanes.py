"""Per-key lanes: messages about different things side by side, about one thing in order.

At most `concurrency` messages are admitted and not yet settled; a slot is reserved
before a message is taken from the bus, so that none waits in this process for its
turn while its ack wait runs out. A message whose key is already under way waits in
that key's lane; the first of a key starts a worker that drains the lane.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from icc_bus.tasks import cancel_and_wait

T = TypeVar("T")
log = logging.getLogger(__name__)


class Lanes(Generic[T]):
    def __init__(self, name: str, concurrency: int, handle: Callable[[T], Awaitable[None]]) -> None:
        """`handle` settles one message (ack, nak or DLQ); `name` names the consumer."""
        self._name = name
        self._handle = handle
        # A slot per message taken from the bus and not yet settled.
        self._slots = asyncio.Semaphore(concurrency)
        # Messages waiting behind one being handled with the same key, by key.
        self._lanes: dict[str, deque[T]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    async def reserve(self) -> None:
        """Waits for a free slot, for the next message to take."""
        await self._slots.acquire()

    def unreserve(self) -> None:
        """Gives back a slot reserved when no message came."""
        self._slots.release()

    def admit(self, key: str, message: T) -> None:
        """Hands a message (its slot reserved) to the lane of its key."""
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(message)  # after the one with the same key under way
            return
        self._lanes[key] = deque([message])
        worker = asyncio.create_task(self._drain(key), name=f"consumer:{self._name}:lane")
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def stop(self, grace_s: float) -> None:
        """Lets handlers under way finish for up to `grace_s`, then cancels them (what
        they did not acknowledge is redelivered)."""
        await self.finish(grace_s)
        await self.cancel()

    async def finish(self, grace_s: float) -> None:
        """Waits up to `grace_s` for the messages admitted to be handled."""
        if self._workers:
            await asyncio.wait(list(self._workers), timeout=grace_s)

    async def cancel(self) -> None:
        """Cancels the handlers still under way."""
        for worker in list(self._workers):
            with contextlib.suppress(Exception):
                await cancel_and_wait(worker)
        self._lanes.clear()

    async def _drain(self, key: str) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                try:
                    await self._handle(lane[0])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Acking, nak-ing or dead-lettering failed (the bus is away):
                    # the message stays unacknowledged and comes back; go on.
                    log.warning(
                        "could not settle a message; it will be redelivered",
                        extra={"consumer": self._name, "error": type(exc).__name__},
                    )
                finally:
                    lane.popleft()
                    self._slots.release()
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]
