"""How crews, dispatchers and hospitals behave, in simulated seconds: pure rules and
random draws from a given `random.Random`, no I/O.

The figures are the project's own plausible estimates for Ho Chi Minh City, not
measurements: they make a run look like a working day, and they are all here so
that a study can change them in one place.
"""

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from icc_city import travel
from icc_city.geo import Point, distance_m
from icc_city.river import route
from icc_kernel.care import BURN_UNIT, TRAUMA_CENTER, needed_capability
from icc_kernel.vocabulary import UnitKind
from icc_simulator.world.drive import Drive
from icc_simulator.world.model import AMBULANCES, Family

# Driving back to station without lights and siren.
RETURN_PACE = 0.75


def speed_ms(kind: UnitKind, hour: int, rng: random.Random, *, emergency: bool = True) -> float:
    """Road speed of one trip: the travel model's speed for the vehicle and hour (the one
    dispatch estimates with, so units arrive about when it expected them), give or take
    15% (traffic, driver)."""
    pace = 1.0 if emergency else RETURN_PACE
    return travel.speed_ms(kind, hour) * rng.uniform(0.85, 1.15) * pace


def drive(
    start: Point,
    to: Point,
    kind: UnitKind,
    hour: int,
    start_s: float,
    rng: random.Random,
    *,
    emergency: bool = True,
) -> Drive:
    """A trip from `start` to `to` over the river crossing where it must cross."""
    trip = route(start, to)
    return Drive(
        path=trip.path,
        start_s=start_s,
        speed_ms=speed_ms(kind, hour, rng, emergency=emergency),
        circuity=travel.CIRCUITY,
        via=trip.via.name if trip.via else None,
    )


def acknowledge_delay_s(kind: UnitKind, rng: random.Random) -> float:
    """From the assignment to the crew pressing "acknowledge" on the terminal."""
    return rng.uniform(5.0, 20.0) if kind.two_wheeled else rng.uniform(10.0, 40.0)


def turnout_s(kind: UnitKind, rng: random.Random) -> float:
    """From acknowledgement to rolling: fire crews put on their gear."""
    if kind.two_wheeled:
        return rng.uniform(10.0, 40.0)
    if kind.heavy or kind is UnitKind.RESCUE:
        return rng.uniform(60.0, 120.0)
    return rng.uniform(30.0, 75.0)


# Minutes on scene (low, high, most likely) by type code prefix; the longest prefix wins.
ON_SCENE_MIN: dict[str, tuple[float, float, float]] = {
    "MEDICAL": (12, 35, 18),
    "MEDICAL.CARDIAC_ARREST": (20, 45, 30),
    "MEDICAL.MASS_CASUALTY": (25, 60, 35),
    "TRAFFIC": (15, 50, 25),
    "TRAFFIC.COLLISION_NO_INJURY": (10, 30, 15),
    "TRAFFIC.SIGNAL_FAILURE": (20, 90, 40),
    "POLICE": (10, 60, 20),
    "FIRE": (20, 60, 30),
    "FIRE.ALARM": (8, 30, 12),
    "FIRE.SMOKE_ODOUR": (8, 30, 12),
    "FIRE.RUBBISH": (8, 30, 12),
    "FIRE.STRUCTURE": (40, 150, 70),
    "FIRE.HIGH_RISE": (60, 180, 90),
    "FIRE.MARKET": (60, 180, 90),
    "FIRE.INDUSTRIAL": (60, 180, 100),
    "FIRE.KARAOKE_VENUE": (45, 150, 80),
    "RESCUE": (20, 90, 40),
    "RESCUE.TRAPPED_ELEVATOR": (10, 40, 20),
    "HAZMAT": (40, 180, 80),
    "FLOOD": (20, 90, 40),
    "FLOOD.PEOPLE_TRAPPED": (30, 120, 60),
}


def _longest_prefix(prefixes: Iterable[str], code: str) -> str:
    """The longest of `prefixes` that is `code` or a dotted prefix of it ("" if none)."""
    return max((p for p in prefixes if code == p or code.startswith(p + ".")), key=len, default="")


def on_scene_s(type_code: str, rng: random.Random) -> float:
    low, high, mode = ON_SCENE_MIN.get(_longest_prefix(ON_SCENE_MIN, type_code), (15, 45, 25))
    return rng.triangular(low, high, mode) * 60.0


# Chance that an ambulance at an incident of the category takes a patient to hospital.
TRANSPORT_CHANCE: dict[str, float] = {
    "MEDICAL": 0.75,
    "MEDICAL.SICK_PERSON": 0.55,
    "MEDICAL.ANIMAL_BITE": 0.4,
    "TRAFFIC": 0.7,
    "TRAFFIC.COLLISION_NO_INJURY": 0.05,
    "TRAFFIC.ROAD_BLOCKED": 0.05,
    "TRAFFIC.SIGNAL_FAILURE": 0.0,
    "FIRE": 0.3,
    "RESCUE": 0.6,
    "HAZMAT": 0.4,
    "POLICE": 0.5,
    "FLOOD": 0.35,
}


def transports(kind: UnitKind, type_code: str, rng: random.Random, *, patients: int = 0) -> bool:
    """Whether this unit takes a patient to hospital. Only ambulances do; a scenario that
    names its patients (a mass-casualty incident) fills every ambulance."""
    if kind not in AMBULANCES:
        return False
    if patients > 0:
        return True
    best = _longest_prefix(TRANSPORT_CHANCE, type_code)
    return rng.random() < TRANSPORT_CHANCE.get(best, 0.5)


def handover_s(rng: random.Random) -> float:
    """At the hospital: handing the patient over, cleaning and restocking."""
    return rng.uniform(10.0, 25.0) * 60.0


def close_delay_s(rng: random.Random) -> float:
    """From the last unit clearing to the dispatcher closing the incident."""
    return rng.uniform(30.0, 120.0)


def review_delay_s(rng: random.Random) -> float:
    """A dispatcher reading a recommendation for a P3/P4 incident before assigning."""
    return rng.uniform(20.0, 90.0)


def duplicate_noticed_s(rng: random.Random) -> float:
    """From a second caller's incident to the dispatcher noticing it is the same event."""
    return rng.uniform(45.0, 150.0)


# Patients stay in their bed this long before the hospital frees it again.
BED_STAY_S = 4 * 3600.0


class Bed(Enum):
    EMERGENCY = "emergency_beds"
    TRAUMA = "trauma"
    BURN = "burn"


# The bed a patient takes, by the capability the case calls for (`icc_kernel.care`).
_BED_FOR = {BURN_UNIT: Bed.BURN, TRAUMA_CENTER: Bed.TRAUMA}


def patient_needs(type_code: str) -> tuple[Bed, str | None]:
    """What a patient of each type needs: a bed kind and, preferably, a capability."""
    capability = needed_capability(type_code)
    bed = _BED_FOR.get(capability, Bed.EMERGENCY) if capability else Bed.EMERGENCY
    return bed, capability


@dataclass(frozen=True)
class HospitalView:
    name: str
    label: str
    point: Point
    capabilities: frozenset[str]
    # Free beds now, by kind (`emergency_beds`, `trauma`, `burn`, ...).
    free: Mapping[str, int]
    # True when on full diversion (takes nobody).
    diverting: bool = False
    # True when on partial diversion: turns away patients who need a specialty (the rule
    # dispatch chooses destinations by, `icc_dispatch.domain.hospitals`).
    diverting_specialty: bool = False


# A capable hospital is worth this much further driving than the nearest one.
CAPABLE_DETOUR_M = 8000.0
# Patients of one incident per hospital before the next is preferred (mass casualty:
# spread the load so that no single emergency department is swamped).
PER_HOSPITAL_PER_INCIDENT = 3


def choose_hospital(
    at: Point,
    type_code: str,
    hospitals: Iterable[HospitalView],
    already_sent: Mapping[str, int] | None = None,
) -> HospitalView | None:
    """The hospital a patient goes to: nearest with a free bed of the kind needed (or an
    emergency bed), preferring one with the capability the case calls for when it is not
    much further, and spreading an incident's patients over hospitals."""
    bed, capability = patient_needs(type_code)
    sent = already_sent or {}

    def has_bed(h: HospitalView) -> bool:
        return h.free.get(bed.value, 0) > 0 or h.free.get(Bed.EMERGENCY.value, 0) > 0

    def cost(h: HospitalView) -> float:
        d = distance_m(at, h.point)
        if capability and capability not in h.capabilities:
            d += CAPABLE_DETOUR_M
        if h.free.get(bed.value, 0) <= 0:
            d += CAPABLE_DETOUR_M / 2  # an emergency bed will do, a specialised one is better
        return d

    open_ = [
        h
        for h in hospitals
        if not h.diverting and not (capability and h.diverting_specialty) and has_bed(h)
    ]
    spread = [h for h in open_ if sent.get(h.name, 0) < PER_HOSPITAL_PER_INCIDENT]
    pool = spread or open_
    if not pool:
        return None
    return min(pool, key=lambda h: (cost(h), h.name))


def destination(
    recorded: str,
    at: Point,
    type_code: str,
    hospitals: Iterable[HospitalView],
    already_sent: Mapping[str, int] | None = None,
) -> HospitalView | None:
    """Where an ambulance takes its patient: the hospital dispatch recorded with its
    assignment (`recorded`, `hospitals/{id}`), which heard of every diversion; the
    player's own choice when dispatch recorded none (a unit taken over mid-job, or no
    hospital list at dispatch) or one the player does not know."""
    every = list(hospitals)
    if recorded:
        for h in every:
            if h.name == recorded:
                return h
    return choose_hospital(at, type_code, every, already_sent)


def family_of_code(type_code: str) -> Family:
    prefix = type_code.split(".", 1)[0]
    return {
        "POLICE": Family.POLICE,
        "MEDICAL": Family.MEDICAL,
        "TRAFFIC": Family.TRAFFIC,
        "FLOOD": Family.FLOOD,
    }.get(prefix, Family.FIRE_RESCUE)
