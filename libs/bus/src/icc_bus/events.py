"""Protobuf events on JetStream: headers, publishing with retries, decoding."""

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

from google.protobuf.message import DecodeError, Message
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import NoStreamResponseError
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import AttributeValue

from icc_bus.errors import PoisonMessage
from icc_telemetry import INCIDENT_ID, UNIT_ID, extract, inject

HEADER_MSG_ID = "Nats-Msg-Id"
HEADER_EVENT_TYPE = "Icc-Event-Type"
# What an event is about, as bare ids (never names or personal data): every span that
# publishes or processes it carries them, without decoding the payload.
HEADER_INCIDENT_ID = "Icc-Incident-Id"
HEADER_UNIT_IDS = "Icc-Unit-Ids"

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("icc_bus")


@dataclass(frozen=True)
class OutgoingEvent:
    """An event ready for the wire: subject, payload and headers (incl. trace context)."""

    event_id: str
    subject: str
    event_type: str
    payload: bytes
    headers: Mapping[str, str]


def build_headers(event_id: str, event_type: str) -> dict[str, str]:
    """The headers every event carries, with the *current* trace context.

    This is the event's creation context: the span of the work that made it.
    `publish_event` replaces it with its producer span's; the outbox relay, which
    publishes in batches, keeps it and links its one send span to it.
    """
    headers = {HEADER_MSG_ID: event_id, HEADER_EVENT_TYPE: event_type}
    inject(headers)
    return headers


def outgoing(
    subject: str,
    event_id: str,
    message: Message,
    *,
    incident: str = "",
    units: Iterable[str] = (),
) -> OutgoingEvent:
    """A protobuf event ready for the outbox, typed by its full message name, naming the
    incident and units it is about (bare ids) for tracing."""
    event_type = message.DESCRIPTOR.full_name
    headers = build_headers(event_id, event_type)
    if incident:
        headers[HEADER_INCIDENT_ID] = incident
    unit_ids = ",".join(units)
    if unit_ids:
        headers[HEADER_UNIT_IDS] = unit_ids
    return OutgoingEvent(
        event_id=event_id,
        subject=subject,
        event_type=event_type,
        payload=message.SerializeToString(),
        headers=headers,
    )


def subject_attributes(headers: Mapping[str, str]) -> dict[str, str | list[str]]:
    """`icc.incident.id` / `icc.unit.id` span attributes from an event's headers."""
    found: dict[str, str | list[str]] = {}
    if incident := headers.get(HEADER_INCIDENT_ID):
        found[INCIDENT_ID] = incident
    if units := headers.get(HEADER_UNIT_IDS):
        ids = units.split(",")
        found[UNIT_ID] = ids[0] if len(ids) == 1 else ids
    return found


def span_attributes(
    operation: str, subject: str, event_id: str, headers: Mapping[str, str]
) -> dict[str, AttributeValue]:
    """OpenTelemetry's messaging attributes for the span that publishes or processes one
    event, with the incident and units it is about."""
    return {
        "messaging.system": "nats",
        "messaging.operation.type": operation,
        "messaging.destination.name": subject,
        "messaging.message.id": event_id,
        **subject_attributes(headers),
    }


def subject_template(subject: str) -> str:
    """Low-cardinality span destination: `icc.unit.status.u-17` -> `icc.unit.status.*`."""
    parts = subject.split(".")
    return ".".join(parts[:3]) + (".*" if len(parts) > 3 else "")


async def publish_event(
    js: JetStreamContext,
    event: OutgoingEvent,
    *,
    ack_timeout_s: float = 2.0,
    attempts: int = 8,
    traced: bool = True,
) -> PubAck:
    """Publish with the event id as `Nats-Msg-Id`, retrying unknown outcomes.

    A timeout or a missing stream response (leader election) leaves the outcome
    unknown; resending with the same id is safe because JetStream drops duplicates.
    `traced=False`: no span of its own, the headers' context goes out as it is
    (a caller publishing a batch under one span).
    """
    if not traced:
        return await _publish_with_retries(js, event, dict(event.headers), ack_timeout_s, attempts)
    with _tracer.start_as_current_span(
        f"publish {subject_template(event.subject)}",
        kind=SpanKind.PRODUCER,
        attributes=span_attributes("publish", event.subject, event.event_id, event.headers),
    ):
        headers = dict(event.headers)
        # Downstream spans become children of this producer span.
        inject(headers)
        return await _publish_with_retries(js, event, headers, ack_timeout_s, attempts)


async def publish_batch(
    js: JetStreamContext, events: Sequence[OutgoingEvent]
) -> list[BaseException | None]:
    """Publish events side by side under one send span; per event, None or the error.

    Each event keeps the context it was created in (its headers), so whoever
    processes it continues the trace of the work that made it. The send span is
    a child of the first event's context and links to the others': one span per
    batch instead of one per event, which is most of what tracing costs a busy
    service beyond its own request spans (OpenTelemetry's messaging conventions
    for batch publishing).
    """
    first = extract(events[0].headers)
    links = []
    for event in events[1:]:
        span_context = trace.get_current_span(extract(event.headers)).get_span_context()
        if span_context.is_valid:
            links.append(Link(span_context))
    templates = {subject_template(e.subject) for e in events}
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "nats",
        "messaging.operation.type": "send",
    }
    if len(events) == 1:
        attributes["messaging.destination.name"] = events[0].subject
        attributes["messaging.message.id"] = events[0].event_id
        attributes.update(subject_attributes(events[0].headers))
    else:
        attributes["messaging.batch.message_count"] = len(events)
        incidents = {e.headers.get(HEADER_INCIDENT_ID) for e in events}
        if len(incidents) == 1 and (incident := incidents.pop()):
            attributes[INCIDENT_ID] = incident
    name = f"send {templates.pop()}" if len(templates) == 1 else "send"
    with _tracer.start_as_current_span(
        name, context=first, kind=SpanKind.PRODUCER, links=links, attributes=attributes
    ):
        outcomes = await asyncio.gather(
            *(publish_event(js, e, traced=False) for e in events), return_exceptions=True
        )
    return [None if isinstance(o, PubAck) else o for o in outcomes]


async def _publish_with_retries(
    js: JetStreamContext,
    event: OutgoingEvent,
    headers: dict[str, str],
    ack_timeout_s: float,
    attempts: int,
) -> PubAck:
    delay = 0.1
    for attempt in range(1, attempts + 1):
        try:
            return await js.publish(
                event.subject, event.payload, timeout=ack_timeout_s, headers=headers
            )
        except (NatsTimeoutError, NoStreamResponseError) as exc:
            if attempt == attempts:
                raise
            log.warning(
                "publish outcome unknown, retrying with the same id",
                extra={
                    "subject": event.subject,
                    "attempt": attempt,
                    "error": type(exc).__name__,
                },
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


def messages_of(events_file: ModuleType) -> tuple[type[Message], ...]:
    """Every message a generated `events_pb2` module declares, in order: the events its
    service publishes on its stream."""
    names = events_file.DESCRIPTOR.message_types_by_name
    return tuple(getattr(events_file, name) for name in names)


class EventTypes:
    """Maps `Icc-Event-Type` names to protobuf classes for decoding."""

    def __init__(self, classes: Iterable[type[Message]]) -> None:
        self._by_name = {cls.DESCRIPTOR.full_name: cls for cls in classes}

    def decode(self, event_type: str | None, payload: bytes) -> Message:
        cls = self._by_name.get(event_type or "")
        if cls is None:
            raise PoisonMessage(f"unknown event type {event_type!r}")
        msg = cls()
        try:
            msg.ParseFromString(payload)
        except DecodeError as exc:
            raise PoisonMessage(f"cannot decode {event_type}: {exc}") from exc
        return msg
