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
`icc.dlq.<consumer>` at once (`icc_bus.dlq`). A transient fault (`icc_bus.faults`: the
database, the bus or a dependency away for a while) is no fault of the message: the
handler is called again here, with growing pauses, for as long as the fault lasts, the
message kept in progress at the server (`icc_bus.progress`) and in its place in its
lane. It is never dead-lettered for it: a flooded city's calls are not thrown away
because the database restarted. Any other exception is retried with backoff through
the server; the last allowed delivery goes to the DLQ instead of being retried again, so
nothing is dropped silently and nothing blocks the stream. Redelivery can happen even
after an ack, so handlers must be idempotent (see `icc_storage.inbox`). A dead letter
replayed by a person comes back to the same handler as the original event
(`icc_bus.replay`), through a second subscription of the consumer's own.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from icc_bus.consumer_metrics import ConsumerMetrics, consumer_metrics
from icc_bus.dlq import DeadLetters
from icc_bus.errors import PoisonMessage
from icc_bus.events import span_attributes, subject_template
from icc_bus.faults import is_transient
from icc_bus.lanes import Lanes
from icc_bus.progress import Held
from icc_bus.received import Handler, ReceivedEvent, received
from icc_bus.replay import is_replay, replay_spec, replayed
from icc_bus.spec import ConsumerSpec
from icc_bus.subscription import Subscription
from icc_bus.tasks import cancel_and_wait
from icc_telemetry import extract

log = logging.getLogger(__name__)

# A message taken from the bus and what its handler will see.
_Delivery = tuple[Msg, ReceivedEvent]
# Pauses between calls of a handler that met a transient fault: doubling, at most this
# long (plus up to a quarter more, so replicas do not retry in step).
_TRANSIENT_FIRST_S = 0.25
_TRANSIENT_MAX_S = 5.0
# A transient failure is logged on its first retry, then every this many.
_TRANSIENT_LOG_EVERY = 10


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
        self._replays = Subscription(nc, replay_spec(spec), self._metrics)
        self._lanes: Lanes[_Delivery] = Lanes(spec.durable, spec.concurrency, self._deliver)
        self._dlq = DeadLetters(nc.jetstream(), spec, self._metrics)
        self._held = Held(spec.ack_wait_s)
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._progress: asyncio.Task[None] | None = None

    def start(self) -> None:
        name = self._spec.durable
        self._tasks = [
            asyncio.create_task(self._run(), name=f"consumer:{name}"),
            asyncio.create_task(self._run_replays(), name=f"replays:{name}"),
            asyncio.create_task(self._dlq.watch_depth(), name=f"dlq-depth:{name}"),
        ]
        self._progress = asyncio.create_task(
            self._held.keep_in_progress(), name=f"in-progress:{name}"
        )

    def stuck(self) -> bool:
        """Whether a handler call has run for longer than any bounded work can
        (`icc_bus.progress.STUCK_AFTER_S`)."""
        return self._held.stuck()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stops pulling, lets handlers under way finish for up to `grace_s`, then gives
        back what is left (nak'd, so another replica takes it at once) and cancels them."""
        self._stopping.set()
        with contextlib.suppress(Exception):
            await cancel_and_wait(*self._tasks)
        await self._lanes.finish(grace_s)
        if self._progress is not None:
            await cancel_and_wait(self._progress)
        for msg in self._held.held():
            with contextlib.suppress(Exception):
                await msg.nak()
        await self._lanes.cancel()

    async def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                # A free slot before taking a message (see `icc_bus.lanes`).
                await self._lanes.reserve()
                admitted = False
                try:
                    msg = await self._subscription.next()
                    admitted = msg is not None and self._admit(msg, received)
                finally:
                    if not admitted:
                        self._lanes.unreserve()
        finally:
            await self._subscription.close()

    async def _run_replays(self) -> None:
        """Replays are rare: a slot is taken once one has come, so that waiting for them
        keeps none from the consumer's own stream."""
        try:
            while not self._stopping.is_set():
                msg = await self._replays.next()
                if msg is None:
                    continue
                await self._lanes.reserve()
                if not self._admit(msg, replayed):
                    self._lanes.unreserve()
        finally:
            await self._replays.close()

    def _admit(self, msg: Msg, read: Callable[[Msg], ReceivedEvent]) -> bool:
        """Hands a message to the lane of its order key; False when it cannot be read
        (not a JetStream message, or the spec's key failed on it): it comes back after
        its ack wait."""
        try:
            event = read(msg)
            key = self._spec.order_key(event)
        except Exception as exc:
            log.warning(
                "could not read a message; it will be redelivered",
                extra={"consumer": self._spec.durable, "error": type(exc).__name__},
            )
            return False
        self._held.hold(msg)
        self._lanes.admit(key, (msg, event))
        return True

    async def _deliver(self, delivery: _Delivery) -> None:
        msg, event = delivery
        attributes = span_attributes("process", event.subject, event.event_id, event.headers)
        attributes["messaging.consumer.group.name"] = self._spec.durable
        if is_replay(msg):  # not the consumer's lag, nor a redelivery of its stream
            attributes["icc.replay"] = True
        else:
            self._metrics.delivered(
                self._spec.durable, event.num_delivered, msg.metadata.num_pending
            )
        token = otel_context.attach(extract(event.headers))
        try:
            with self._tracer.start_as_current_span(
                f"process {subject_template(event.subject)}",
                kind=SpanKind.CONSUMER,
                attributes=attributes,
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    await self._handle(msg, event)
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
            self._held.settled(msg)
            otel_context.detach(token)

    async def _handle(self, msg: Msg, event: ReceivedEvent) -> None:
        """Calls the handler; again after a pause for as long as it meets a transient
        fault (the message stays held, so in progress at the server), until the
        consumer stops (then the fault is raised: the message goes back to the server,
        not to the DLQ)."""
        failures = 0
        while True:
            self._held.call_started(msg)
            try:
                await self._handler(event)
                return
            except PoisonMessage:
                raise
            except Exception as exc:
                if self._stopping.is_set() or not is_transient(exc, self._spec.transient):
                    raise
                failures += 1
                self._metrics.transient_failure(self._spec.durable)
                if failures % _TRANSIENT_LOG_EVERY == 1:
                    log.warning(
                        "handler met a transient fault; holding the message and retrying",
                        extra={
                            "consumer": self._spec.durable,
                            "event_id": event.event_id,
                            "attempt": failures,
                            "error": type(exc).__name__,
                        },
                    )
            finally:
                self._held.call_ended(msg)
            pause = min(_TRANSIENT_FIRST_S * 2 ** (failures - 1), _TRANSIENT_MAX_S)
            await asyncio.sleep(pause * random.uniform(1.0, 1.25))

    async def _retry_or_dead_letter(self, msg: Msg, event: ReceivedEvent, exc: Exception) -> None:
        if is_transient(exc, self._spec.transient):
            # Stopping in the middle of an outage: another replica, or this one
            # restarted, takes it up; a passing fault never sends it to the DLQ.
            await msg.nak()
            return
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
