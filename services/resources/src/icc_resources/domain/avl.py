"""Rules for unit positions (AVL): what is stored, what is dropped, what is stale."""

import math
from datetime import datetime, timedelta
from enum import Enum

from icc_resources.domain.model import Position

# A device clock may run a little ahead; further ahead is a broken clock.
MAX_CLOCK_SKEW = timedelta(seconds=60)


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
    lat, lon = position.lat, position.lon
    if not (math.isfinite(lat) and math.isfinite(lon)) or not (
        -90 <= lat <= 90 and -180 <= lon <= 180
    ):
        return Verdict.REJECTED, "coordinates out of range"
    if position.report_time > now + MAX_CLOCK_SKEW:
        return Verdict.REJECTED, "report time is in the future"
    if last is not None and position.report_time <= last.report_time:
        return Verdict.DROPPED, "older than the last report"
    return Verdict.ACCEPTED, ""


def is_stale(position: Position, now: datetime, stale_after: timedelta) -> bool:
    return now - position.report_time > stale_after
