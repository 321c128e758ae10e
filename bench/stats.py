"""Small statistics over latency samples and repetitions."""

import statistics
from collections.abc import Sequence

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def p50_ms(samples_ns: Sequence[int]) -> float:
    return percentile(samples_ns, 50) / NS_PER_MS


def p99_ms(samples_ns: Sequence[int]) -> float:
    return percentile(samples_ns, 99) / NS_PER_MS


def rate(count: int, elapsed_ns: int) -> float:
    """Events per second; NaN when nothing was timed."""
    return count * NS_PER_S / elapsed_ns if elapsed_ns > 0 else float("nan")


def median(values: Sequence[float]) -> float:
    present = [v for v in values if v == v]  # NaN is not equal to itself
    return statistics.median(present) if present else float("nan")
