"""What the consumers of a process measure: redeliveries, transient failures, DLQ sends,
lag, DLQ depth and whether JetStream answers.

One `ConsumerMetrics` per process (`consumer_metrics()`): OpenTelemetry keeps the first
instrument made under a name and drops a second one's gauge callbacks, so each
consumer reports its own series (`consumer` = its durable name) into the shared gauges.
"""

import functools
from collections.abc import Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation


class ConsumerMetrics:
    def __init__(self, meter: Meter) -> None:
        self._dlq = meter.create_counter("icc.bus.dlq", description="Messages sent to the DLQ")
        self._redeliveries = meter.create_counter(
            "icc.bus.redeliveries", description="Deliveries beyond the first"
        )
        self._transient = meter.create_counter(
            "icc.bus.transient.failures",
            description="Handler calls that met a transient fault (retried, the message held)",
        )
        # Messages waiting for each durable consumer, as of its last delivery or quiet
        # check (read off the messages themselves: no extra request to the server).
        self._lag: dict[str, int] = {}
        # Messages in the DLQ for each consumer, as its last stream-info request found
        # (a gauge callback cannot ask the server itself).
        self._dlq_depth: dict[str, int] = {}
        # 1 when that request was answered, 0 when it failed: JetStream without a leader
        # or out of reach, seen from the service (the alert on it needs no NATS exporter).
        self._jetstream_up: dict[str, int] = {}
        meter.create_observable_gauge(
            "icc.bus.consumer.lag",
            callbacks=[self._observe_lag],
            unit="{message}",
            description="Messages in the stream not yet delivered to the consumer",
        )
        meter.create_observable_gauge(
            "icc.bus.dlq.depth",
            callbacks=[self._observe_dlq_depth],
            unit="{message}",
            description="Messages waiting in the DLQ for a person to look at, by consumer",
        )
        meter.create_observable_gauge(
            "icc.bus.jetstream.up",
            callbacks=[self._observe_jetstream_up],
            description="1 when JetStream answered the consumer's last DLQ count, else 0",
        )

    def delivered(self, consumer: str, num_delivered: int, num_pending: int) -> None:
        self._lag[consumer] = num_pending
        if num_delivered > 1:
            self._redeliveries.add(1, {"consumer": consumer})

    def lag(self, consumer: str, num_pending: int) -> None:
        self._lag[consumer] = num_pending

    def transient_failure(self, consumer: str) -> None:
        self._transient.add(1, {"consumer": consumer})

    def dead_lettered(self, consumer: str) -> None:
        self._dlq.add(1, {"consumer": consumer})

    def dlq_depth(self, consumer: str, waiting: int) -> None:
        self._dlq_depth[consumer] = waiting

    def jetstream_answered(self, consumer: str, answered: bool) -> None:
        self._jetstream_up[consumer] = int(answered)

    def _observe_lag(self, _options: CallbackOptions) -> Iterable[Observation]:
        return _by_consumer(self._lag)

    def _observe_dlq_depth(self, _options: CallbackOptions) -> Iterable[Observation]:
        return _by_consumer(self._dlq_depth)

    def _observe_jetstream_up(self, _options: CallbackOptions) -> Iterable[Observation]:
        return _by_consumer(self._jetstream_up)


@functools.cache
def consumer_metrics() -> ConsumerMetrics:
    """The process's one set of consumer instruments."""
    return ConsumerMetrics(metrics.get_meter("icc_bus"))


def _by_consumer(readings: dict[str, int]) -> list[Observation]:
    return [Observation(n, {"consumer": name}) for name, n in list(readings.items())]
