"""The ICC event bus on NATS JetStream."""

from icc_bus.connection import BusConfig, connect, flush
from icc_bus.consumer import DurableConsumer
from icc_bus.consumer_metrics import ConsumerMetrics
from icc_bus.errors import PoisonMessage
from icc_bus.events import (
    HEADER_EVENT_TYPE,
    HEADER_INCIDENT_ID,
    HEADER_MSG_ID,
    HEADER_UNIT_IDS,
    EventTypes,
    OutgoingEvent,
    build_headers,
    messages_of,
    outgoing,
    publish_batch,
    publish_event,
    subject_template,
)
from icc_bus.received import Handler, ReceivedEvent
from icc_bus.server import NatsServerMissing, nats_server_binary
from icc_bus.spec import ConsumerSpec, OrderKey, by_header, by_subject
from icc_bus.streams import (
    DECLARE_TIMEOUT_S,
    DLQ_STREAM,
    REPLAY_STREAM,
    StreamNotDeclared,
    StreamSpec,
    ensure_stream,
    ensure_streams,
)
from icc_bus.tasks import cancel_and_wait
from icc_bus.watch import watch_bucket

__all__ = [
    "DECLARE_TIMEOUT_S",
    "DLQ_STREAM",
    "HEADER_EVENT_TYPE",
    "HEADER_INCIDENT_ID",
    "HEADER_MSG_ID",
    "HEADER_UNIT_IDS",
    "REPLAY_STREAM",
    "BusConfig",
    "ConsumerMetrics",
    "ConsumerSpec",
    "DurableConsumer",
    "EventTypes",
    "Handler",
    "NatsServerMissing",
    "OrderKey",
    "OutgoingEvent",
    "PoisonMessage",
    "ReceivedEvent",
    "StreamNotDeclared",
    "StreamSpec",
    "build_headers",
    "by_header",
    "by_subject",
    "cancel_and_wait",
    "connect",
    "ensure_stream",
    "ensure_streams",
    "flush",
    "messages_of",
    "nats_server_binary",
    "outgoing",
    "publish_batch",
    "publish_event",
    "subject_template",
    "watch_bucket",
]
