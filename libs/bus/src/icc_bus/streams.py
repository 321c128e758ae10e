"""Declaring JetStream streams from code, idempotently at start-up."""

from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: list[str]
    # Window in which a repeated Nats-Msg-Id is dropped: must exceed the longest
    # time an outbox row can wait unpublished and be retried.
    duplicate_window_s: float = 15 * 60
    max_age_s: float = 30 * 24 * 3600
    max_msgs_per_subject: int = -1
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def config(self, replicas: int) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=self.description or None,
            subjects=self.subjects,
            retention=self.retention,
            storage=StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=self.duplicate_window_s,
            max_age=self.max_age_s,
            max_msgs_per_subject=self.max_msgs_per_subject,
            discard=DiscardPolicy.OLD,
        )


async def ensure_streams(js: JetStreamContext, specs: list[StreamSpec], replicas: int = 1) -> None:
    """Create each stream, or bring an existing one to the declared config."""
    for spec in specs:
        config = spec.config(replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


DLQ_STREAM = StreamSpec(
    name="ICC_DLQ",
    subjects=["icc.dlq.>"],
    max_age_s=90 * 24 * 3600,
    description="Messages a consumer could not handle, with the reason in headers",
)
# A dead letter replayed goes to `icc.replay.<consumer>` (see `icc_bus.replay`); a double
# replay of one dead letter is dropped within the duplicate window.
REPLAY_STREAM = StreamSpec(
    name="ICC_REPLAY",
    subjects=["icc.replay.>"],
    max_age_s=7 * 24 * 3600,
    description="Dead letters replayed, each to the one consumer it came from",
)
