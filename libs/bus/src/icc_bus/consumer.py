"""Durable pull consumers: explicit ack, bounded redelivery with backoff, DLQ.

Messages about different things are handled concurrently (up to `concurrency` at
once), so that their writes share a commit; messages about one thing (one incident,
or one subject) are handled one after another, in stream order. One message at a time
capped the dispatch service's intake near 25 incident events a second (each waited
for its own commit); see docs/decisions.md.

A handler raises `PoisonMessage` for a message that can never succeed: it goes to
`icc.dlq.<consumer>` at once. Any other exception is retried with backoff; the
last allowed delivery goes to the DLQ instead of being retried again, so nothing
is dropped silently and nothing blocks the stream. Redelivery can happen even
after an ack, so handlers must be idempotent (see `icc_storage.inbox`).
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from icc_bus.errors import PoisonMessage
from icc_bus.events import (
    HEADER_EVENT_TYPE,
    HEADER_INCIDENT_ID,
    HEADER_MSG_ID,
    OutgoingEvent,
    publish_event,
    subject_attributes,
    subject_template,
)
from icc_bus.pull import Puller
from icc_bus.streams import DLQ_STREAM
from icc_bus.tasks import cancel_and_wait
from icc_telemetry import extract

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("icc_bus")
_meter = metrics.get_meter("icc_bus")
_dlq_counter = _meter.create_counter("icc.bus.dlq", description="Messages sent to the DLQ")
_redelivery_counter = _meter.create_counter(
    "icc.bus.redeliveries", description="Deliveries beyond the first"
)

# Messages waiting for each durable consumer, as of its last delivery or quiet check
# (read off the messages themselves: no extra request to the server).
_lag: dict[str, int] = {}


def _observe_lag(_options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(n, {"consumer": name}) for name, n in _lag.items()]


_meter.create_observable_gauge(
    "icc.bus.consumer.lag",
    callbacks=[_observe_lag],
    unit="{message}",
    description="Messages in the stream not yet delivered to the consumer",
)

# Messages in the DLQ for each consumer, read with one stream-info request every
# DLQ_DEPTH_EVERY_S (a gauge callback cannot ask the server itself).
_dlq_depth: dict[str, int] = {}
DLQ_DEPTH_EVERY_S = 15.0


def _observe_dlq_depth(_options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(n, {"consumer": name}) for name, n in _dlq_depth.items()]


_meter.create_observable_gauge(
    "icc.bus.dlq.depth",
    callbacks=[_observe_dlq_depth],
    unit="{message}",
    description="Messages waiting in the DLQ for a person to look at, by consumer",
)

# Empty pulls (of 2 s) between checks that the consumer still exists.
QUIET_CHECK_EVERY = 5
# Status codes that answer one pull request (bad request, timeout, conflict).
_PULL_REQUEST_ANSWERS = frozenset({400, 408, 409})

DLQ_REASON = "Icc-Dlq-Reason"
DLQ_SUBJECT = "Icc-Dlq-Subject"
DLQ_STREAM_SEQ = "Icc-Dlq-Stream-Seq"
DLQ_DELIVERIES = "Icc-Dlq-Deliveries"
DLQ_CONSUMER = "Icc-Dlq-Consumer"


@dataclass(frozen=True)
class ReceivedEvent:
    subject: str
    payload: bytes
    headers: Mapping[str, str]
    event_id: str
    event_type: str | None
    stream_seq: int
    num_delivered: int


Handler = Callable[[ReceivedEvent], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str
    # Delays between deliveries; its length + 1 bounds the number of deliveries.
    backoff_s: list[float] = field(default_factory=lambda: [0.5, 2.0, 5.0, 15.0])
    ack_wait_s: float = 30.0
    max_ack_pending: int = 1000
    batch: int = 64
    deliver_new_only: bool = False
    # Messages handled at once (about different incidents or subjects).
    concurrency: int = 32

    @property
    def max_deliver(self) -> int:
        return len(self.backoff_s) + 1

    @property
    def dlq_subject(self) -> str:
        return f"icc.dlq.{self.durable}"

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=self.filter_subject,
            max_deliver=self.max_deliver,
            # The server applies BackOff to ack timeouts; our naks use the same delays.
            ack_wait=self.ack_wait_s,
            backoff=None,
            max_ack_pending=self.max_ack_pending,
            deliver_policy=DeliverPolicy.NEW if self.deliver_new_only else DeliverPolicy.ALL,
        )


class DurableConsumer:
    """Runs one durable pull consumer until `stop()` (shared by every replica)."""

    def __init__(self, nc: Client, spec: ConsumerSpec, handler: Handler) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._spec = spec
        self._handler = handler
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # A slot per message taken from the bus and not yet settled.
        self._slots = asyncio.Semaphore(spec.concurrency)
        # Messages waiting behind one being handled about the same thing, by order key.
        self._lanes: dict[str, deque[Msg]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        name = self._spec.durable
        self._tasks = [
            asyncio.create_task(self._run(), name=f"consumer:{name}"),
            asyncio.create_task(self._watch_dlq_depth(), name=f"dlq-depth:{name}"),
        ]

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stops pulling, lets handlers under way finish for up to `grace_s`, then cancels
        them (what they did not acknowledge is redelivered)."""
        self._stopping.set()
        with contextlib.suppress(Exception):
            await cancel_and_wait(*self._tasks)
        if self._workers:
            await asyncio.wait(list(self._workers), timeout=grace_s)
        for worker in list(self._workers):
            with contextlib.suppress(Exception):
                await cancel_and_wait(worker)
        self._lanes.clear()

    async def _watch_dlq_depth(self) -> None:
        subject = self._spec.dlq_subject
        while True:
            with contextlib.suppress(Exception):  # the bus away: the last figure stands
                info = await self._js.stream_info(DLQ_STREAM.name, subjects_filter=subject)
                _dlq_depth[self._spec.durable] = (info.state.subjects or {}).get(subject, 0)
            await asyncio.sleep(DLQ_DEPTH_EVERY_S)

    async def _subscribe(self) -> object:
        return await self._js.pull_subscribe(
            self._spec.filter_subject,
            durable=self._spec.durable,
            stream=self._spec.stream,
            config=self._spec.config(),
        )

    async def _bind(self) -> "_Bound":
        """The consumer created (or found) at the server, and our pull requests for it."""
        sub = await self._subscribe()
        puller = Puller(self._nc, self._spec.stream, self._spec.durable)
        try:
            await puller.start()
        except Exception:
            await _unsubscribe(sub)
            raise
        return _Bound(sub, puller)

    async def _check_quiet(self, bound: "_Bound | None", idle: int) -> "_Bound | None":
        """Every few quiet pulls, whether the consumer still exists (after a server
        restart a pull can go quiet for good); None when it is gone."""
        if bound is None or idle % QUIET_CHECK_EVERY or await _consumer_alive(bound.sub):
            return bound
        log.warning(
            "consumer went quiet and is gone; resubscribing",
            extra={"consumer": self._spec.durable},
        )
        await _unbind(bound)
        return None

    async def _run(self) -> None:
        bound: _Bound | None = None
        idle = 0
        missing = False
        try:
            while not self._stopping.is_set():
                # A free slot before taking a message, so that no message waits in this
                # process for its turn while its ack wait runs out.
                await self._slots.acquire()
                taken = False
                try:
                    if bound is None:
                        bound = await self._bind()
                        idle = 0
                    # No pull heartbeat: a quiet pull is checked instead (below).
                    msg = await bound.puller.next(self._spec.batch, timeout_s=2.0)
                    idle = 0
                    missing = False
                    taken = True
                except NatsTimeoutError:
                    idle += 1
                    bound = await self._check_quiet(bound, idle)
                    continue
                except APIError as exc:
                    if exc.code in _PULL_REQUEST_ANSWERS:
                        # A pull request answered with a conflict (the consumer changed,
                        # a cluster leader moved): the subscription is fine unless the
                        # consumer is gone. Tearing it down would strand the messages
                        # already on their way to it until their ack wait runs out.
                        await asyncio.sleep(0.1)
                        idle += 1
                        bound = await self._check_quiet(bound, idle)
                        continue
                    await _unbind(bound)
                    bound = None
                    if isinstance(exc, NotFoundError):
                        # The stream is not there (yet): its producer has not started.
                        # Said once, then checked every 2 s without a line each time.
                        if not missing:
                            log.info(
                                "stream not found; waiting for it",
                                extra={"consumer": self._spec.durable, "stream": self._spec.stream},
                            )
                        missing = True
                        await asyncio.sleep(2.0)
                        continue
                    log.warning(
                        "consumer fetch failed; resubscribing",
                        extra={"consumer": self._spec.durable, "error": type(exc).__name__},
                    )
                    await asyncio.sleep(0.5)
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning(
                        "consumer fetch failed; resubscribing",
                        extra={"consumer": self._spec.durable, "error": type(exc).__name__},
                    )
                    await _unbind(bound)
                    bound = None
                    await asyncio.sleep(0.5)
                    continue
                finally:
                    if not taken:
                        self._slots.release()
                self._admit(msg)
        finally:
            await _unbind(bound)

    def _admit(self, msg: Msg) -> None:
        """Hands a message to the lane of what it is about (its slot is taken)."""
        key = _order_key(msg)
        lane = self._lanes.get(key)
        if lane is not None:
            lane.append(msg)  # after the one about the same thing under way
            return
        self._lanes[key] = deque([msg])
        worker = asyncio.create_task(self._drain(key), name=f"consumer:{self._spec.durable}:lane")
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _drain(self, key: str) -> None:
        lane = self._lanes[key]
        try:
            while lane:
                try:
                    await self._deliver(lane[0])
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # Acking, nak-ing or dead-lettering failed (the bus is away):
                    # the message stays unacknowledged and comes back; go on.
                    log.warning(
                        "could not settle a message; it will be redelivered",
                        extra={"consumer": self._spec.durable, "error": type(exc).__name__},
                    )
                finally:
                    lane.popleft()
                    self._slots.release()
        finally:
            if self._lanes.get(key) is lane:
                del self._lanes[key]

    async def _deliver(self, msg: Msg) -> None:
        headers = dict(msg.headers or {})
        meta = msg.metadata
        event = ReceivedEvent(
            subject=msg.subject,
            payload=msg.data,
            headers=headers,
            event_id=headers.get(HEADER_MSG_ID) or f"{meta.stream}:{meta.sequence.stream}",
            event_type=headers.get(HEADER_EVENT_TYPE),
            stream_seq=meta.sequence.stream,
            num_delivered=meta.num_delivered,
        )
        _lag[self._spec.durable] = meta.num_pending
        if event.num_delivered > 1:
            _redelivery_counter.add(1, {"consumer": self._spec.durable})
        token = otel_context.attach(extract(headers))
        try:
            with _tracer.start_as_current_span(
                f"process {subject_template(msg.subject)}",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "nats",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": msg.subject,
                    "messaging.consumer.group.name": self._spec.durable,
                    "messaging.message.id": event.event_id,
                    **subject_attributes(headers),
                },
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    await self._handler(event)
                except PoisonMessage as exc:
                    span.set_status(Status(StatusCode.ERROR, "poison message"))
                    # The handler wrote this reason for the DLQ: no personal data.
                    await self._dead_letter(msg, event, f"poison: {exc}")
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
            await self._dead_letter(
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

    async def _dead_letter(self, msg: Msg, event: ReceivedEvent, reason: str) -> None:
        headers = dict(event.headers)
        headers.update(
            {
                HEADER_MSG_ID: f"dlq:{self._spec.durable}:{event.stream_seq}",
                DLQ_REASON: reason[:1000],
                DLQ_SUBJECT: event.subject,
                DLQ_STREAM_SEQ: str(event.stream_seq),
                DLQ_DELIVERIES: str(event.num_delivered),
                DLQ_CONSUMER: self._spec.durable,
            }
        )
        # Publish to the DLQ first; only then terminate, so a crash in between
        # redelivers (and the DLQ publish is deduplicated by its id).
        dead = OutgoingEvent(
            event_id=headers[HEADER_MSG_ID],
            subject=self._spec.dlq_subject,
            event_type=event.event_type or "",
            payload=event.payload,
            headers=headers,
        )
        await publish_event(self._js, dead)
        await msg.term()
        _dlq_counter.add(1, {"consumer": self._spec.durable})
        log.error(
            "message sent to DLQ",
            extra={
                "consumer": self._spec.durable,
                "event_id": event.event_id,
                "subject": event.subject,
                "reason": reason[:200],
            },
        )


def _order_key(msg: Msg) -> str:
    """Messages with one key are handled in stream order: those about one incident
    (whatever their subject), else those on one subject (one unit's status)."""
    return (msg.headers or {}).get(HEADER_INCIDENT_ID) or msg.subject


async def _consumer_alive(sub: Any) -> bool:
    """After a server restart a pull can go quiet for good; asking for the consumer's
    info tells a quiet stream from a lost consumer."""
    try:
        info = await sub.consumer_info()
    except Exception:
        return False
    _lag[info.name] = int(info.num_pending or 0)
    return True


@dataclass
class _Bound:
    sub: Any  # nats-py's pull subscription: creates the consumer, reads its info
    puller: Puller


async def _unbind(bound: _Bound | None) -> None:
    if bound is not None:
        with contextlib.suppress(Exception):
            await bound.puller.stop()
        await _unsubscribe(bound.sub)


async def _unsubscribe(sub: Any) -> None:
    if sub is not None:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
