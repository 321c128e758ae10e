"""Dead letters replayed to the consumer they came from, and to no other.

A person replays a dead letter (`icc dlq replay`, or the ops service's
DeadLetterService) by publishing it to `icc.replay.<consumer>` in stream `ICC_REPLAY`,
with the headers the DLQ kept. Every durable consumer also reads its own replay subject
(a second durable, `<consumer>-replay`) and hands what comes to the same handler, as the
original event: its subject and event id are the original's (`Icc-Dlq-Subject`,
`Icc-Dlq-Event-Id`), so the consumer's inbox knows it, and replaying what was already
processed changes nothing. Republishing to the original subject would instead announce
an old fact again to every reader of that subject (the gateway's picture, watchers).
"""

from dataclasses import replace

from nats.aio.msg import Msg

from icc_bus.dlq import DLQ_EVENT_ID, DLQ_STREAM_SEQ, DLQ_SUBJECT
from icc_bus.received import ReceivedEvent, received
from icc_bus.spec import ConsumerSpec
from icc_bus.streams import REPLAY_STREAM

# How often a dead letter was replayed before (carried by each replay, and so by the dead
# letter a failed replay makes).
DLQ_REPLAYS = "Icc-Dlq-Replays"


def replay_subject(consumer: str) -> str:
    return f"icc.replay.{consumer}"


def replay_id(consumer: str, dead_letter: int) -> str:
    """The `Nats-Msg-Id` of a dead letter's replay: a second replay of it is dropped."""
    return f"replay:{consumer}:{dead_letter}"


def replay_spec(spec: ConsumerSpec) -> ConsumerSpec:
    """The durable on `ICC_REPLAY` that brings a consumer its replays: every one still in
    the stream when it is first created (the inbox drops what was already handled)."""
    return replace(
        spec,
        stream=REPLAY_STREAM.name,
        durable=f"{spec.durable}-replay",
        filter_subject=replay_subject(spec.durable),
        deliver_new_only=False,
    )


def is_replay(msg: Msg) -> bool:
    return bool(msg.metadata.stream == REPLAY_STREAM.name)


def replayed(msg: Msg) -> ReceivedEvent:
    """A replay as its handler sees it: the original event, its subject and its id."""
    event = received(msg)
    headers = event.headers
    return replace(
        event,
        subject=headers.get(DLQ_SUBJECT) or event.subject,
        event_id=headers.get(DLQ_EVENT_ID) or event.event_id,
        stream_seq=int(headers.get(DLQ_STREAM_SEQ) or event.stream_seq),
    )
