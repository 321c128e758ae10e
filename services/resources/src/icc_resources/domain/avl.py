"""Rules for unit positions (AVL): what is stored, what is dropped, what is stale."""

import math
from datetime import datetime, timedelta
from enum import Enum

from icc_kernel.errors import Violation
from icc_resources.domain.model import Position

# A device clock may run a little ahead; further ahead is a broken clock.
MAX_CLOCK_SKEW = timedelta(seconds=60)
# Beyond what any unit drives or flies (540 km/h), and what a fix can be off by.
MAX_SPEED_MPS = 150.0
MAX_ACCURACY_M = 100_000.0


class Verdict(Enum):
    ACCEPTED = "accepted"
    # Older than (or as old as) the last report: dropped, not an error.
    DROPPED = "dropped"
    # Can never be right: out-of-range coordinates, unknown unit, broken clock.
    REJECTED = "rejected"


def judge(
    position: Position, last: Position | None, *, known_unit: bool, now: datetime
) -> tuple[Verdict, str]:
    """Whether a report is stored, with the reason when it is not."""
    if not known_unit:
        return Verdict.REJECTED, "unknown unit"
    if position_violations(position, "position"):
        return Verdict.REJECTED, "position out of range"
    if position.report_time > now + MAX_CLOCK_SKEW:
        return Verdict.REJECTED, "report time is in the future"
    if last is not None and position.report_time <= last.report_time:
        return Verdict.DROPPED, "older than the last report"
    return Verdict.ACCEPTED, ""


def position_violations(position: Position, field: str) -> list[Violation]:
    """What no device can report (NaN, infinities, numbers out of their range), each
    naming its field under `field`."""
    bounds = [
        ("lat", position.lat, -90.0, 90.0),
        ("lon", position.lon, -180.0, 180.0),
        ("heading", position.heading, 0.0, 360.0),  # degrees clockwise from north
        ("speed", position.speed, 0.0, MAX_SPEED_MPS),  # metres per second
        ("accuracy", position.accuracy, 0.0, MAX_ACCURACY_M),  # metres
    ]
    return [
        Violation(f"{field}.{name}", f"must be a number from {low:g} to {high:g}")
        for name, value, low, high in bounds
        if not (math.isfinite(value) and low <= value <= high)
    ]


def is_stale(position: Position, now: datetime, stale_after: timedelta) -> bool:
    return now - position.report_time > stale_after
