"""Metric values a test recorded, read through the SDK's in-memory reader."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
    Sum,
)
from opentelemetry.util.types import AttributeValue

Labels = frozenset[tuple[str, AttributeValue]]
V = TypeVar("V")


def delta_reader() -> InMemoryMetricReader:
    """A reader that reports what changed since its last collection, so a test can
    start from zero in a process whose instruments earlier tests already used."""
    delta = AggregationTemporality.DELTA
    return InMemoryMetricReader(
        preferred_temporality={
            Counter: delta,
            UpDownCounter: delta,
            Histogram: delta,
            ObservableCounter: delta,
            ObservableUpDownCounter: delta,
            ObservableGauge: delta,
        }
    )


@dataclass
class _Histogram:
    count: int = 0
    sum: float = 0.0


class RecordedMetrics:
    """What was recorded since this object was made (the `metrics` fixture: the test).

    Every query collects first. `attributes` select the points that carry at least
    those attribute values; the matching points are added up.
    """

    def __init__(self, reader: InMemoryMetricReader) -> None:
        self.reader = reader
        self._sums: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], _Histogram] = {}
        self._gauges: dict[tuple[str, Labels], float] = {}
        reader.get_metrics_data()  # forget what came before

    def collect(self) -> None:
        data = self.reader.get_metrics_data()
        if data is None:
            return
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        key = (metric.name, frozenset((point.attributes or {}).items()))
                        if isinstance(point, HistogramDataPoint):
                            h = self._histograms.setdefault(key, _Histogram())
                            h.count += point.count
                            h.sum += point.sum
                        elif isinstance(metric.data, Sum) and isinstance(point, NumberDataPoint):
                            self._sums[key] = self._sums.get(key, 0.0) + point.value
                        elif isinstance(metric.data, Gauge) and isinstance(point, NumberDataPoint):
                            self._gauges[key] = point.value

    def counter(self, name: str, attributes: Mapping[str, object] | None = None) -> float:
        """The total added to a counter (0 when nothing was)."""
        return sum(self._matching(self._sums, name, attributes))

    def histogram_count(self, name: str, attributes: Mapping[str, object] | None = None) -> int:
        """How many values a histogram recorded."""
        return sum(h.count for h in self._matching(self._histograms, name, attributes))

    def histogram_sum(self, name: str, attributes: Mapping[str, object] | None = None) -> float:
        """The sum of the values a histogram recorded."""
        return sum(h.sum for h in self._matching(self._histograms, name, attributes))

    def gauge(self, name: str, attributes: Mapping[str, object] | None = None) -> float | None:
        """The last value observed by a gauge (summed over matching series), None if none."""
        values = self._matching(self._gauges, name, attributes)
        return sum(values) if values else None

    def _matching(
        self,
        recorded: Mapping[tuple[str, Labels], V],
        name: str,
        attributes: Mapping[str, object] | None,
    ) -> list[V]:
        """After collecting: the values recorded under `name` with at least `attributes`."""
        self.collect()
        return [v for (n, labels), v in recorded.items() if _matches(n, labels, name, attributes)]

    def attribute_sets(self, name: str) -> list[dict[str, AttributeValue]]:
        """The attribute sets a metric was recorded with."""
        self.collect()
        keys = [*self._sums, *self._histograms, *self._gauges]
        return [dict(labels) for n, labels in keys if n == name]


def _matches(
    name: str, labels: Labels, wanted: str, attributes: Mapping[str, object] | None
) -> bool:
    return name == wanted and all(item in labels for item in (attributes or {}).items())
