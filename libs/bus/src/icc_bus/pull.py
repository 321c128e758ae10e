"""Pull requests of our own, so each message is handed on the moment it arrives.

nats-py's `fetch(n)` returns once it has `n` messages or its request ends: a message
that arrives alone during a waiting fetch sat in the client until the request expired
(up to the whole fetch timeout). Traced on `make run`, one in ten incident events
waited 0.15-1.6 s that way before its consumer saw it.

Here one request for `batch` messages is kept open at the server (JetStream's
`$JS.API.CONSUMER.MSG.NEXT` wire API); `next()` returns each message as soon as it is
in, and asks again when the request is used up or about to expire.
"""

import json
import time

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.errors import APIError

# Status headers JetStream sends on a pull request's inbox.
_STATUS = "Status"
# A request ended with no messages (404) or expired (408), and the idle heartbeat (100).
# Our own clock decides when to ask again (an end status can belong to an earlier
# request, or be lost on a reconnect). Anything else (a 409 conflict: the consumer
# changed or was deleted, too many requests waiting) is raised to the caller.
_ORDINARY = frozenset({"100", "404", "408"})
# A new request goes out this long before the open one expires, so that one is
# always open at the server (a message arriving in a gap would wait for the next).
_RENEW_BEFORE_S = 0.25


class Puller:
    """One durable consumer's pull requests on an inbox of its own."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._left = 0  # messages the newest request may still bring
        self._renew_at = 0.0

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(self._inbox)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def next(self, batch: int, timeout_s: float) -> Msg:
        """The next message; `NatsTimeoutError` when none came for a while (under
        `timeout_s`), `APIError` for a status that is not a pull request's own."""
        assert self._sub is not None, "start() first"
        assert timeout_s > _RENEW_BEFORE_S
        while True:
            now = time.monotonic()
            if self._left <= 0 or now >= self._renew_at:
                await self._request(batch, timeout_s)
                now = time.monotonic()
            msg = await self._sub.next_msg(timeout=max(self._renew_at - now, 0.001))
            status = (msg.headers or {}).get(_STATUS)
            if status is None:
                self._left -= 1
                return msg
            if status not in _ORDINARY:
                self._left = 0  # ended, refused or broken: the next call asks anew
                description = (msg.headers or {}).get("Description")
                raise APIError(code=int(status), description=description)

    async def _request(self, batch: int, timeout_s: float) -> None:
        request = {"batch": batch, "expires": int(timeout_s * 1e9)}
        await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        self._left = batch
        self._renew_at = time.monotonic() + timeout_s - _RENEW_BEFORE_S
