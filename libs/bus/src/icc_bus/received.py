"""A message as a consumer's handler sees it."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from nats.aio.msg import Msg

from icc_bus.events import HEADER_EVENT_TYPE, HEADER_MSG_ID


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


def received(msg: Msg) -> ReceivedEvent:
    """The event in a JetStream message; its id is the `Nats-Msg-Id`, else the stream
    and sequence."""
    headers = dict(msg.headers or {})
    meta = msg.metadata
    return ReceivedEvent(
        subject=msg.subject,
        payload=msg.data,
        headers=headers,
        event_id=headers.get(HEADER_MSG_ID) or f"{meta.stream}:{meta.sequence.stream}",
        event_type=headers.get(HEADER_EVENT_TYPE),
        stream_seq=meta.sequence.stream,
        num_delivered=meta.num_delivered,
    )
