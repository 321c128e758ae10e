"""The travel model: how fast an emergency vehicle crosses Ho Chi Minh City (pure, no I/O).

A trip goes straight, or over the river crossing that makes it shortest when the Saigon
river is in the way (`icc_city.river.route`); the road is `CIRCUITY` times that path; the
speed depends on the vehicle's class and the period of the day. Motorbikes weave through
rush-hour traffic that stops an engine. The speeds and the circuity are the project's own
estimates for HCMC streets, not measurements.

Dispatch estimates arrival times with it (`estimate`); the simulator drives its units at
the same speeds (`route`, `speed_ms`, `CIRCUITY`), so units arrive about when dispatch
expected them. The hour is the city's local hour (0-23).
"""

from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol

from icc_city.geo import Point
from icc_city.river import route

VehicleClass = Literal["motorbike", "car", "heavy"]


class Period(Enum):
    """The city's traffic periods."""

    RUSH = "rush"
    DAY = "day"
    NIGHT = "night"


def period_of(hour: int) -> Period:
    """Rush hours are 06-09 and 16-19, the day 09-22, the night the rest (local hours)."""
    if 6 <= hour < 9 or 16 <= hour < 19:
        return Period.RUSH
    if 9 <= hour < 22:
        return Period.DAY
    return Period.NIGHT


# km/h on the road, with lights and siren, by vehicle class and period.
SPEED_KMH: dict[VehicleClass, dict[Period, float]] = {
    "motorbike": {Period.RUSH: 24.0, Period.DAY: 30.0, Period.NIGHT: 40.0},
    "car": {Period.RUSH: 16.0, Period.DAY: 28.0, Period.NIGHT: 42.0},
    "heavy": {Period.RUSH: 13.0, Period.DAY: 24.0, Period.NIGHT: 36.0},
}
# Road distance over straight-line distance in the city's street grid.
CIRCUITY = 1.4


class Vehicle(Protocol):
    """What the model needs to know of a kind of unit (`icc_kernel.vocabulary.UnitKind` is one)."""

    @property
    def two_wheeled(self) -> bool: ...

    @property
    def heavy(self) -> bool: ...


def vehicle_class(kind: Vehicle) -> VehicleClass:
    if kind.two_wheeled:
        return "motorbike"
    return "heavy" if kind.heavy else "car"


def speed_ms(kind: Vehicle, hour: int) -> float:
    """Road speed in metres a second, lights and siren, at the local `hour`."""
    return SPEED_KMH[vehicle_class(kind)][period_of(hour)] / 3.6


@dataclass(frozen=True)
class Eta:
    """An estimated trip: seconds and road metres, and the river crossing taken (if any)."""

    seconds: int
    meters: int
    via: str | None = None


def estimate(
    origin: Point, destination: Point, kind: Vehicle, hour: int, circuity: float = CIRCUITY
) -> Eta:
    """The travel model's estimate of a trip from `origin` to `destination`."""
    trip = route(origin, destination)
    meters = trip.length_m * circuity
    return Eta(
        round(meters / speed_ms(kind, hour)), round(meters), trip.via.name if trip.via else None
    )
