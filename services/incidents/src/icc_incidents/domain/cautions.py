"""Premise cautions: checked on entry, and which are in force at a place.

A caution covers its point and a radius around it (0: the address itself). A point
a little off still gets it: a call placed by a map click or a landmark search lands
tens of metres from the door, so `SLACK_M` is added to every radius.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from icc_city.geo import Point, distance_m
from icc_incidents.domain import validation as v
from icc_incidents.domain.model import Caution, Location
from icc_kernel.actors import Actor
from icc_kernel.errors import Violation, raise_if_any
from icc_kernel.vocabulary import CautionKind

SLACK_M = 50.0
MAX_RADIUS_M = 2000.0
MAX_TEXT = 1000
# A caution is reviewed at least this often: nothing stays in force for ever.
LONGEST_VALIDITY = timedelta(days=3 * 366)
# A caution entered without an expiry is reviewed within a year.
DEFAULT_VALIDITY = timedelta(days=365)


@dataclass(frozen=True)
class CautionDraft:
    """What a supervisor or a partner enters."""

    kind: CautionKind | None
    text: str
    location: Location | None
    radius_m: float
    valid_until: datetime | None


def check(rules: v.Rules, draft: CautionDraft, now: datetime, prefix: str = "caution.") -> None:
    """InvalidInput naming every bad field: an impossible place, an expiry in the past."""
    out: list[Violation] = []
    if not draft.text.strip():
        out.append(Violation(f"{prefix}text", "required: what responders must know"))
    v.check_length(draft.text, MAX_TEXT, f"{prefix}text", out)
    v.check_location(rules, draft.location, f"{prefix}location", out)
    if not 0 <= draft.radius_m <= MAX_RADIUS_M or draft.radius_m != draft.radius_m:
        out.append(Violation(f"{prefix}radius_m", f"must be between 0 and {MAX_RADIUS_M:.0f}"))
    if draft.valid_until is None:
        pass  # a year (`new_caution`)
    elif draft.valid_until <= now:
        out.append(Violation(f"{prefix}valid_until", "must be in the future"))
    elif draft.valid_until > now + LONGEST_VALIDITY:
        out.append(Violation(f"{prefix}valid_until", "at most three years ahead"))
    raise_if_any(out)


def new_caution(draft: CautionDraft, *, caution_id: str, actor: Actor, now: datetime) -> Caution:
    assert draft.location is not None
    return Caution(
        id=caution_id,
        kind=draft.kind or CautionKind.OTHER,
        text=draft.text.strip(),
        location=draft.location,
        radius_m=draft.radius_m,
        valid_until=draft.valid_until or now + DEFAULT_VALIDITY,
        created_by=actor,
        create_time=now,
    )


def reach_m(caution: Caution) -> float:
    """How far from its point a caution applies."""
    return caution.radius_m + SLACK_M


def in_force_at(
    cautions: Iterable[Caution], point: Point, now: datetime, *, within_m: float = 0.0
) -> tuple[Caution, ...]:
    """The cautions in force at `point` (or whose area lies within `within_m` of it),
    nearest first."""
    found: list[tuple[float, Caution]] = []
    for c in cautions:
        if c.valid_until <= now:
            continue
        metres = distance_m(point, Point(c.location.lat, c.location.lon))
        if metres <= reach_m(c) + within_m:
            found.append((metres, c))
    found.sort(key=lambda pair: (pair[0], pair[1].id))
    return tuple(c for _, c in found)
