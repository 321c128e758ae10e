"""Possible duplicates: which incidents a new call may be about, and why.

A call may repeat an incident of the same family, within a short distance, that was
active a short while ago (defaults from practice: 100 m, 10 minutes): open and changed
within the window (created, another caller, a unit's progress: anything that moves its
`update_time`), or ended within it; or one whose caller called from the same phone, at
any distance and in any family, open (however long ago) or ended within the window.
The store brings candidates (a box around the point, phone matches); the rule here
decides. Phone numbers are compared by `phone_key` and never leave the service.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from icc_city.geo import Point, distance_m
from icc_incidents.domain.model import Incident, PossibleDuplicate
from icc_kernel.vocabulary import DuplicateReason, IncidentState

_NOT_DIGITS = re.compile(r"\D")
# Shorter numbers (a switchboard extension, a typo) would match strangers.
MIN_PHONE_DIGITS = 6
MOST_SHOWN = 10


@dataclass(frozen=True)
class DuplicateRules:
    radius_m: float = 100.0
    window: timedelta = timedelta(minutes=10)
    # Off: no check at intake (FindPossibleDuplicates still answers).
    at_intake: bool = True


@dataclass(frozen=True)
class CallFacts:
    """What the check compares of a call: where, which family, which phone (a place or
    a family not known yet: None, "")."""

    point: Point | None
    family: str
    phone_key: str = ""


def phone_key(phone: str) -> str:
    """A phone number as compared: its digits, without the country code (84) or the
    trunk 0, so "+84 90 123 4567" and "0901234567" match. Empty when too short."""
    digits = _NOT_DIGITS.sub("", phone)
    if digits.startswith("84") and len(digits) >= 11:
        digits = digits[2:]
    digits = digits.lstrip("0")
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def still_relevant(
    incident: Incident, now: datetime, rules: DuplicateRules, *, same_phone: bool = False
) -> bool:
    """Changed within the window while open, or ended (closed, cancelled) within it; a
    merged incident never (its survivor stands for it). An open incident quiet for
    longer (a unit working on scene for an hour) is another event as often as not at
    a busy place; for the same phone, any open incident is still relevant."""
    if incident.state is IncidentState.MERGED:
        return False
    since = now - rules.window
    if not incident.state.terminal:
        return same_phone or incident.update_time >= since
    ended = incident.close_time or incident.update_time
    return ended >= since


def find(
    call: CallFacts,
    candidates: Iterable[Incident],
    same_phone: frozenset[str],
    *,
    family_of: dict[str, str],
    now: datetime,
    rules: DuplicateRules,
) -> tuple[PossibleDuplicate, ...]:
    """The candidates the call may repeat, the same phone first, then the nearest.

    `same_phone`: ids of incidents with a caller of the call's phone (the store
    matched it); `family_of`: type code -> family."""
    found: list[PossibleDuplicate] = []
    for incident in candidates:
        where = Point(incident.location.lat, incident.location.lon)
        metres = distance_m(call.point, where) if call.point is not None else None
        reasons: list[DuplicateReason] = []
        if incident.id in same_phone and still_relevant(incident, now, rules, same_phone=True):
            reasons.append(DuplicateReason.SAME_PHONE)
        if (
            metres is not None
            and metres <= rules.radius_m
            and call.family in ("", family_of.get(incident.type_code))
            and still_relevant(incident, now, rules)
        ):
            reasons.append(DuplicateReason.NEARBY)
        if reasons:
            found.append(_possible(incident, tuple(reasons), metres, now))
    found.sort(key=lambda d: (DuplicateReason.SAME_PHONE not in d.reasons, d.distance_m or 0))
    return tuple(found[:MOST_SHOWN])


def _possible(
    incident: Incident, reasons: tuple[DuplicateReason, ...], metres: float | None, now: datetime
) -> PossibleDuplicate:
    minutes = max(0, round((now - incident.create_time).total_seconds() / 60))
    why = " and ".join(
        "same phone" if r is DuplicateReason.SAME_PHONE else "nearby" for r in reasons
    )
    away = f"{metres:.0f} m" if metres is not None else "place not given"
    summary = (
        f"{incident.type_code} {incident.priority.name}, {away}, {minutes} min ago, "
        f"{incident.state.name} ({why})"
    )
    return PossibleDuplicate(
        incident=incident.name,
        reasons=reasons,
        # 0 when the call's place is not known yet.
        distance_m=round(metres, 1) if metres is not None else 0.0,
        type_code=incident.type_code,
        state=incident.state,
        create_time=incident.create_time,
        summary=summary,
    )
