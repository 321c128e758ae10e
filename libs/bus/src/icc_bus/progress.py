"""Messages a consumer holds: kept in progress at the server, and watched for stuck work.

A message taken from the bus is held until it is settled (acked, nak'd or dead-lettered),
whether its handler runs, retries a transient fault or waits in its lane behind another
message of its order key. While this process is alive it tells the server every third of
the ack wait that it is still at work (`in_progress()`), so a slow database or a long
outage does not make the server hand the message to another replica (out of order, a
delivery counted) or, after enough ack waits, give up on it. A process that dies or is
frozen sends nothing: its messages go to another replica after one ack wait.

A handler call running longer than `STUCK_AFTER_S` is stuck (every statement is bounded,
so none should): `stuck()` says so, and the service reports NOT_SERVING until it ends.
"""

import asyncio
import contextlib
import time

from nats.aio.msg import Msg

# A single handler call this long is stuck (statements are bounded to seconds).
STUCK_AFTER_S = 60.0


class Held:
    def __init__(self, ack_wait_s: float) -> None:
        self._every_s = ack_wait_s / 3
        # id(message) -> (message, when this process took it); held messages are few
        # (`concurrency`). By id: nats-py's `Msg` is not hashable.
        self._held: dict[int, tuple[Msg, float]] = {}
        # id(message) -> when its handler's current call started.
        self._running: dict[int, float] = {}

    def hold(self, msg: Msg) -> None:
        self._held[id(msg)] = (msg, time.monotonic())

    def settled(self, msg: Msg) -> None:
        self._held.pop(id(msg), None)
        self._running.pop(id(msg), None)

    def held(self) -> list[Msg]:
        return [msg for msg, _ in self._held.values()]

    def call_started(self, msg: Msg) -> None:
        self._running[id(msg)] = time.monotonic()

    def call_ended(self, msg: Msg) -> None:
        self._running.pop(id(msg), None)

    def stuck(self) -> bool:
        """Whether a handler call has run longer than `STUCK_AFTER_S`."""
        oldest = min(self._running.values(), default=None)
        return oldest is not None and time.monotonic() - oldest > STUCK_AFTER_S

    async def keep_in_progress(self) -> None:
        """Until cancelled: every third of the ack wait, tells the server that each
        message held longer than that is still being worked on."""
        while True:
            await asyncio.sleep(self._every_s)
            due = time.monotonic() - self._every_s
            for key, (msg, since) in list(self._held.items()):
                if since <= due and key in self._held:
                    # The bus away or the message just settled: nothing to keep.
                    with contextlib.suppress(Exception):
                        await msg.in_progress()
