"""Where a transporting unit takes its patient: the destination hospital recorded with
its assignment.

The rule: the nearest hospital (straight line from the incident) that is not diverting
the patient. A hospital on full diversion diverts everyone; one on partial diversion
diverts the patients who need a specialty (trauma, burns, stroke, ...), which is what
partial diversion means in practice. A diverting hospital is chosen only when no other
is within `REACH_M` of the incident: then the nearest of all, because a patient must go
somewhere and the ambulance crew can still be redirected by the dispatcher.
Among hospitals that take the patient, one with the capability the case needs is
preferred when it is no more than `CAPABLE_DETOUR_M` further, and one that has had
`PER_HOSPITAL_PER_INCIDENT` of the incident's patients already is passed over while
another takes them (a mass casualty is spread so that no emergency department is
swamped).
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from icc_city.geo import Point, distance_m
from icc_dispatch.domain.model import UnitKind
from icc_kernel.care import needed_capability
from icc_kernel.vocabulary import Diversion

# Straight-line distance within which another hospital is "within reach" (about 25
# minutes of urban emergency driving in Ho Chi Minh City).
REACH_M = 15_000.0
# A capable hospital is worth this much further driving than the nearest one.
CAPABLE_DETOUR_M = 8_000.0

# Patients of one incident per hospital before the next hospital is preferred.
PER_HOSPITAL_PER_INCIDENT = 3

# Units that carry patients: only their assignments get a destination.
TRANSPORTING = frozenset({UnitKind.AMBULANCE_ALS, UnitKind.AMBULANCE_BLS})


@dataclass(frozen=True)
class HospitalView:
    """A hospital as dispatch needs it to choose a destination."""

    id: str
    location: Point
    capabilities: frozenset[str]
    diversion: Diversion


def diverts(h: HospitalView, capability: str | None) -> bool:
    """Whether the hospital turns this patient away."""
    if h.diversion is Diversion.FULL:
        return True
    return h.diversion is Diversion.PARTIAL and capability is not None


def choose_destination(
    at: Point,
    type_code: str,
    hospitals: Iterable[HospitalView],
    already_sent: Mapping[str, int] | None = None,
) -> HospitalView | None:
    """The destination for a patient of an incident of `type_code` at `at` (None: no
    hospital is known); `already_sent`: the incident's patients bound for each hospital
    (by id) so far."""
    capability = needed_capability(type_code)
    sent = already_sent or {}
    every = list(hospitals)
    if not every:
        return None

    def cost(h: HospitalView) -> tuple[float, str]:
        d = distance_m(at, h.location)
        if capability is not None and capability not in h.capabilities:
            d += CAPABLE_DETOUR_M
        return d, h.id

    taking = [
        h for h in every if not diverts(h, capability) and distance_m(at, h.location) <= REACH_M
    ]
    if taking:
        spread = [h for h in taking if sent.get(h.id, 0) < PER_HOSPITAL_PER_INCIDENT]
        return min(spread or taking, key=cost)
    # Every hospital within reach diverts this patient: the nearest of all.
    return min(every, key=lambda h: (distance_m(at, h.location), h.id))
