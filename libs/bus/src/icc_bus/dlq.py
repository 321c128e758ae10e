"""A consumer's dead-letter queue: messages that can never succeed, kept for a person.

A message goes to `icc.dlq.<consumer>` (stream `ICC_DLQ`) with its payload and headers
and the `Icc-Dlq-*` headers saying why, then is terminated at its own stream. A person
replays it to that consumer alone (`icc_bus.replay`) or discards it (`icc dlq`).
"""

import asyncio
import logging
from datetime import UTC, datetime

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from icc_bus.consumer_metrics import ConsumerMetrics
from icc_bus.events import HEADER_MSG_ID, OutgoingEvent, publish_event
from icc_bus.received import ReceivedEvent
from icc_bus.spec import ConsumerSpec
from icc_bus.streams import DLQ_STREAM

log = logging.getLogger(__name__)

DLQ_REASON = "Icc-Dlq-Reason"
DLQ_SUBJECT = "Icc-Dlq-Subject"
DLQ_STREAM_SEQ = "Icc-Dlq-Stream-Seq"
DLQ_DELIVERIES = "Icc-Dlq-Deliveries"
DLQ_CONSUMER = "Icc-Dlq-Consumer"
# The event's own id (its `Nats-Msg-Id`, which the DLQ message replaces with its own): a
# replay carries it back to the consumer's inbox.
DLQ_EVENT_ID = "Icc-Dlq-Event-Id"
# When the event first went to this DLQ (ISO 8601, UTC); kept when a replay fails again.
DLQ_FIRST_FAILURE = "Icc-Dlq-First-Failure"
# How often each consumer counts what waits in its DLQ (one stream-info request).
DLQ_DEPTH_EVERY_S = 15.0


class DeadLetters:
    """One consumer's DLQ."""

    def __init__(self, js: JetStreamContext, spec: ConsumerSpec, metrics: ConsumerMetrics) -> None:
        self._js = js
        self._consumer = spec.durable
        self._subject = spec.dlq_subject
        self._metrics = metrics

    async def send(self, msg: Msg, event: ReceivedEvent, reason: str) -> None:
        """Moves a message to the DLQ. `reason` goes into a header: no personal data."""
        headers = dict(event.headers)
        headers.setdefault(DLQ_FIRST_FAILURE, datetime.now(UTC).isoformat())
        meta = msg.metadata  # this message's place: a replay is in ICC_REPLAY, not its stream
        headers.update(
            {
                HEADER_MSG_ID: f"dlq:{self._consumer}:{meta.stream}:{meta.sequence.stream}",
                DLQ_EVENT_ID: event.event_id,
                DLQ_REASON: reason[:1000],
                DLQ_SUBJECT: event.subject,
                DLQ_STREAM_SEQ: str(event.stream_seq),
                DLQ_DELIVERIES: str(event.num_delivered),
                DLQ_CONSUMER: self._consumer,
            }
        )
        # Publish to the DLQ first; only then terminate, so a crash in between
        # redelivers (and the DLQ publish is deduplicated by its id).
        dead = OutgoingEvent(
            event_id=headers[HEADER_MSG_ID],
            subject=self._subject,
            event_type=event.event_type or "",
            payload=event.payload,
            headers=headers,
        )
        await publish_event(self._js, dead)
        await msg.term()
        self._metrics.dead_lettered(self._consumer)
        log.error(
            "message sent to DLQ",
            extra={
                "consumer": self._consumer,
                "event_id": event.event_id,
                "subject": event.subject,
                "reason": reason[:200],
            },
        )

    async def watch_depth(self) -> None:
        """Counts what waits in the DLQ every `DLQ_DEPTH_EVERY_S`, until cancelled."""
        while True:
            try:
                info = await self._js.stream_info(DLQ_STREAM.name, subjects_filter=self._subject)
            except Exception:  # the bus away: the last figure stands, JetStream is down
                self._metrics.jetstream_answered(self._consumer, False)
            else:
                waiting = (info.state.subjects or {}).get(self._subject, 0)
                self._metrics.dlq_depth(self._consumer, waiting)
                self._metrics.jetstream_answered(self._consumer, True)
            await asyncio.sleep(DLQ_DEPTH_EVERY_S)
