"""Pull requests of our own, so each message is handed on the moment it arrives.

nats-py's `fetch(n)` returns once it has `n` messages or its request ends: a message
that arrives alone during a waiting fetch sat in the client until the request expired
(up to the whole fetch timeout). Traced on `make run`, one in ten incident events
waited 0.15-1.6 s that way before its consumer saw it.

Here one request for `batch` messages is kept open at the server (JetStream's
`$JS.API.CONSUMER.MSG.NEXT` wire API); `next()` returns each message as soon as it is
in, and asks again when the request is used up or has expired.
"""

import json
import time

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError

# Status headers JetStream sends on a pull request's inbox.
_STATUS = "Status"
_HEARTBEAT = "100"
# The request ended: no messages (404), expired (408), or a conflict such as a
# change of the consumer or too many waiting requests (409).
_ENDED = frozenset({"404", "408", "409"})
# Beyond the request's expiry, how long to wait for its end before asking again
# (the answer can be lost on a reconnect).
_GRACE_S = 1.0


class Puller:
    """One durable consumer's pull requests on an inbox of its own."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._left = 0  # messages the open request may still bring
        self._ends_at = 0.0

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def next(self, batch: int, timeout_s: float) -> Msg:
        """The next message; `NatsTimeoutError` when none came within `timeout_s`,
        `APIError` for a status that is not a pull request's ordinary end."""
        assert self._sub is not None, "start() first"
        while True:
            now = time.monotonic()
            if self._left <= 0 or now > self._ends_at + _GRACE_S:
                await self._request(batch, timeout_s)
            try:
                msg = await self._sub.next_msg(timeout=self._ends_at + _GRACE_S - now)
            except NatsTimeoutError:
                self._left = 0  # the request's end never came: ask again
                raise
            status = (msg.headers or {}).get(_STATUS)
            if status is None:
                self._left -= 1
                return msg
            if status == _HEARTBEAT:
                continue
            self._left = 0
            if status in _ENDED:
                if status == "408" or status == "404":
                    raise NatsTimeoutError
                continue  # 409: ask again
            raise APIError(code=int(status), description=(msg.headers or {}).get("Description"))

    async def _request(self, batch: int, timeout_s: float) -> None:
        request = {"batch": batch, "expires": int(timeout_s * 1e9)}
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        self._left = batch
        self._ends_at = time.monotonic() + timeout_s
