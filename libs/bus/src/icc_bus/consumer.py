"""Durable pull consumers: explicit ack, bounded redelivery with backoff, DLQ.

A consumer is declared by its `ConsumerSpec` (`icc_bus.spec`) and a handler. This
module is its loop: take a message (`icc_bus.subscription`), hand it to the lane of its
order key (`icc_bus.lanes`), run the handler under a CONSUMER span, and settle it.

Messages with different order keys are handled concurrently (up to `concurrency` at
once), so that their writes share a commit; messages with one key are handled one
after another, in stream order. One message at a time capped the dispatch service's
intake near 25 incident events a second (each waited for its own commit); see
docs/decisions.md.

A handler raises `PoisonMessage` for a message that can never succeed: it goes to
`icc.dlq.<consumer>` at once (`icc_bus.dlq`). Any other exception is retried with
backoff; the last allowed delivery goes to the DLQ instead of being retried again, so
nothing is dropped silently and nothing blocks the stream. Redelivery can happen even
after an ack, so handlers must be idempotent (see `icc_storage.inbox`).
"""

import asyncio
import contextlib
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from icc_bus.consumer_metrics import ConsumerMetrics, consumer_metrics
from icc_bus.dlq import DeadLetters
from icc_bus.errors import PoisonMessage
from icc_bus.events import span_attributes, subject_template
from icc_bus.lanes import Lanes
from icc_bus.received import Handler, ReceivedEvent, received
from icc_bus.spec import ConsumerSpec
from icc_bus.subscription import Subscription
from icc_bus.tasks import cancel_and_wait
from icc_telemetry import extract

log = logging.getLogger(__name__)

# A message taken from the bus and what its handler will see.
_Delivery = tuple[Msg, ReceivedEvent]


class DurableConsumer:
    """Runs one durable pull consumer until `stop()` (shared by every replica)."""

    def __init__(
        self,
        nc: Client,
        spec: ConsumerSpec,
        handler: Handler,
        *,
        metrics: ConsumerMetrics | None = None,
    ) -> None:
        self._spec = spec
        self._handler = handler
        self._metrics = metrics or consumer_metrics()
        self._tracer = trace.get_tracer("icc_bus")
        self._subscription = Subscription(nc, spec, self._metrics)
        self._lanes: Lanes[_Delivery] = Lanes(spec.durable, spec.concurrency, self._deliver)
        self._dlq = DeadLetters(nc.jetstream(), spec, self._metrics)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        name = self._spec.durable
        self._tasks = [
            asyncio.create_task(self._run(), name=f"consumer:{name}"),
            asyncio.create_task(self._dlq.watch_depth(), name=f"dlq-depth:{name}"),
        ]

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stops pulling, lets handlers under way finish for up to `grace_s`, then cancels
        them (what they did not acknowledge is redelivered)."""
        self._stopping.set()
        with contextlib.suppress(Exception):
            await cancel_and_wait(*self._tasks)
        await self._lanes.stop(grace_s)

    async def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                # A free slot before taking a message (see `icc_bus.lanes`).
                await self._lanes.reserve()
                admitted = False
                try:
                    msg = await self._subscription.next()
                    admitted = msg is not None and self._admit(msg)
                finally:
                    if not admitted:
                        self._lanes.unreserve()
        finally:
            await self._subscription.close()

    def _admit(self, msg: Msg) -> bool:
        """Hands a message to the lane of its order key; False when it cannot be read
        (not a JetStream message, or the spec's key failed on it): it comes back after
        its ack wait."""
        try:
            event = received(msg)
            key = self._spec.order_key(event)
        except Exception as exc:
            log.warning(
                "could not read a message; it will be redelivered",
                extra={"consumer": self._spec.durable, "error": type(exc).__name__},
            )
            return False
        self._lanes.admit(key, (msg, event))
        return True

    async def _deliver(self, delivery: _Delivery) -> None:
        msg, event = delivery
        self._metrics.delivered(self._spec.durable, event.num_delivered, msg.metadata.num_pending)
        attributes = span_attributes("process", msg.subject, event.event_id, event.headers)
        attributes["messaging.consumer.group.name"] = self._spec.durable
        token = otel_context.attach(extract(event.headers))
        try:
            with self._tracer.start_as_current_span(
                f"process {subject_template(msg.subject)}",
                kind=SpanKind.CONSUMER,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    await self._handler(event)
                except PoisonMessage as exc:
                    span.set_status(Status(StatusCode.ERROR, "poison message"))
                    # The handler wrote this reason for the DLQ: no personal data.
                    await self._dlq.send(msg, event, f"poison: {exc}")
                    return
                except Exception as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    await self._retry_or_dead_letter(msg, event, exc)
                    return
                await msg.ack()
        finally:
            otel_context.detach(token)

    async def _retry_or_dead_letter(self, msg: Msg, event: ReceivedEvent, exc: Exception) -> None:
        if event.num_delivered >= self._spec.max_deliver:
            # Only the exception's type: its text may quote data (SQL parameters).
            await self._dlq.send(
                msg, event, f"failed {event.num_delivered} times: {type(exc).__name__}"
            )
            return
        delay = self._spec.backoff_s[min(event.num_delivered, len(self._spec.backoff_s)) - 1]
        log.warning(
            "handler failed; will retry",
            extra={
                "consumer": self._spec.durable,
                "event_id": event.event_id,
                "delivery": event.num_delivered,
                "retry_in_s": delay,
                "error": type(exc).__name__,
            },
        )
        await msg.nak(delay=delay)
