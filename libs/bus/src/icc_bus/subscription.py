"""A durable consumer kept bound at the server: created or found on first use, our pull
requests on it (`icc_bus.pull`), and bound again when it is lost.

Every failure is met here, with the wait that fits it, so the consumer's loop only sees
a message or nothing: a stream not there yet (its producer has not started), a pull
request answered with a conflict, a consumer gone after a server restart.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import APIError, NotFoundError

from icc_bus.consumer_metrics import ConsumerMetrics
from icc_bus.pull import Puller
from icc_bus.spec import ConsumerSpec

log = logging.getLogger(__name__)

# Empty pulls (of PULL_TIMEOUT_S) between checks that the consumer still exists.
QUIET_CHECK_EVERY = 5
PULL_TIMEOUT_S = 2.0
# Status codes that answer one pull request (bad request, timeout, conflict).
_PULL_REQUEST_ANSWERS = frozenset({400, 408, 409})


class Subscription:
    def __init__(self, nc: Client, spec: ConsumerSpec, metrics: ConsumerMetrics) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._spec = spec
        self._metrics = metrics
        self._bound: _Bound | None = None
        self._idle = 0  # quiet pulls in a row
        self._missing = False  # the stream was not found (said once)

    async def next(self) -> Msg | None:
        """The next message; None after a quiet pull or a failure, once the wait that
        fits it is over."""
        try:
            if self._bound is None:
                self._bound = await self._bind()
                self._idle = 0
            # No pull heartbeat: a quiet pull is checked instead (`_check_quiet`).
            msg = await self._bound.puller.next(self._spec.batch, timeout_s=PULL_TIMEOUT_S)
        except NatsTimeoutError:
            await self._check_quiet()
        except APIError as exc:
            await self._refused(exc)
        except Exception as exc:
            self._warn("consumer fetch failed; resubscribing", exc)
            await self.close()
            await asyncio.sleep(0.5)
        else:
            self._idle = 0
            self._missing = False
            return msg
        return None

    async def close(self) -> None:
        bound, self._bound = self._bound, None
        if bound is not None:
            with contextlib.suppress(Exception):
                await bound.puller.stop()
            await _unsubscribe(bound.sub)

    async def _refused(self, exc: APIError) -> None:
        if exc.code in _PULL_REQUEST_ANSWERS:
            # A pull request answered with a conflict (the consumer changed, a cluster
            # leader moved): the subscription is fine unless the consumer is gone.
            # Tearing it down would strand the messages already on their way to it
            # until their ack wait runs out.
            await asyncio.sleep(0.1)
            await self._check_quiet()
            return
        await self.close()
        if not isinstance(exc, NotFoundError):
            self._warn("consumer fetch failed; resubscribing", exc)
            await asyncio.sleep(0.5)
            return
        # The stream is not there (yet): its producer has not started. Said once, then
        # checked every 2 s without a line each time.
        if not self._missing:
            log.info(
                "stream not found; waiting for it",
                extra={"consumer": self._spec.durable, "stream": self._spec.stream},
            )
        self._missing = True
        await asyncio.sleep(2.0)

    async def _bind(self) -> "_Bound":
        """The consumer created (or found) at the server, and our pull requests for it."""
        # Created, or brought to the declared config (nats-py's `pull_subscribe` leaves
        # an existing consumer as it was).
        await self._js.add_consumer(self._spec.stream, config=self._spec.config())
        sub = await self._js.pull_subscribe(
            self._spec.filter_subject,
            durable=self._spec.durable,
            stream=self._spec.stream,
            config=self._spec.config(),
        )
        puller = Puller(self._nc, self._spec.stream, self._spec.durable)
        try:
            await puller.start()
        except Exception:
            await _unsubscribe(sub)
            raise
        return _Bound(sub, puller)

    async def _check_quiet(self) -> None:
        """Every few quiet pulls, whether the consumer still exists (after a server
        restart a pull can go quiet for good); unbound when it is gone."""
        self._idle += 1
        if self._bound is None or self._idle % QUIET_CHECK_EVERY:
            return
        try:
            # Tells a quiet stream from a lost consumer.
            info = await self._bound.sub.consumer_info()
        except Exception:
            log.warning(
                "consumer went quiet and is gone; resubscribing",
                extra={"consumer": self._spec.durable},
            )
            await self.close()
            return
        self._metrics.lag(info.name, int(info.num_pending or 0))

    def _warn(self, message: str, exc: Exception) -> None:
        log.warning(message, extra={"consumer": self._spec.durable, "error": type(exc).__name__})


@dataclass
class _Bound:
    sub: Any  # nats-py's pull subscription: creates the consumer, reads its info
    puller: Puller


async def _unsubscribe(sub: Any) -> None:
    with contextlib.suppress(Exception):
        await sub.unsubscribe()
