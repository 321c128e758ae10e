"""What a durable consumer declares: what it reads, how it orders, how it retries.

A service writes one `ConsumerSpec` per consumer beside its handler, the way
faststream's `@broker.subscriber(subject, ...)` reads; the loop, the lanes, the DLQ and
the metrics live once, in this library (`icc_bus.consumer`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from icc_bus.received import ReceivedEvent

# Messages with one key are handled one after another, in stream order; messages with
# different keys side by side.
OrderKey = Callable[[ReceivedEvent], str]


def by_subject(event: ReceivedEvent) -> str:
    """Messages on one subject in order (the default)."""
    return event.subject


def by_header(name: str) -> OrderKey:
    """Messages carrying one value of header `name` in order (whatever their subject);
    those without it by subject."""

    def key(event: ReceivedEvent) -> str:
        return event.headers.get(name) or event.subject

    return key


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
    # Messages handled at once (with different order keys).
    concurrency: int = 32
    order_key: OrderKey = by_subject
    # The handler's own passing faults, beside those `icc_bus.faults` knows: retried for
    # as long as they last, never dead-lettered.
    transient: tuple[type[BaseException], ...] = ()

    @property
    def max_deliver(self) -> int:
        """Deliveries after which a message that keeps failing (not transiently) is
        dead-lettered."""
        return len(self.backoff_s) + 1

    @property
    def dlq_subject(self) -> str:
        return f"icc.dlq.{self.durable}"

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=self.filter_subject,
            # No limit at the server: a message it stops delivering is lost without a
            # trace. Ack waits that ran out (a replica died or froze) count deliveries
            # too; the consumer decides, on a failure, when one goes to the DLQ.
            max_deliver=-1,
            # The server applies BackOff to ack timeouts; our naks use the same delays.
            ack_wait=self.ack_wait_s,
            backoff=None,
            max_ack_pending=self.max_ack_pending,
            deliver_policy=DeliverPolicy.NEW if self.deliver_new_only else DeliverPolicy.ALL,
        )
