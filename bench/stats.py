"""Small statistics over latency samples and repetitions."""

import math
import statistics
from collections.abc import Sequence

from icc_kernel.stats import percentile

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


def nearest_rank(values: Sequence[float], q: float) -> float:
    """`icc_kernel.stats.percentile` (rank ceil(q/100 * n) of the sorted values); NaN
    when there are none, which the report shows as a gap rather than failing the run."""
    return percentile(values, q) if values else math.nan


def p50_ms(samples_ns: Sequence[int]) -> float:
    return nearest_rank(samples_ns, 50) / NS_PER_MS


def p99_ms(samples_ns: Sequence[int]) -> float:
    return nearest_rank(samples_ns, 99) / NS_PER_MS


def rate(count: int, elapsed_ns: int) -> float:
    """Events per second; NaN when nothing was timed."""
    return count * NS_PER_S / elapsed_ns if elapsed_ns > 0 else float("nan")


def median(values: Sequence[float]) -> float:
    present = [v for v in values if v == v]  # NaN is not equal to itself
    return statistics.median(present) if present else float("nan")
