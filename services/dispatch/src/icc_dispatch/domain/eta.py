"""Estimated travel times: the `EtaProvider` interface and the default travel model.

The default model needs no network: straight-line distance (through a river
crossing when the trip must cross the Saigon river) times a circuity factor,
at a speed that depends on the kind of unit and the hour of day. Motorbikes
weave through rush-hour traffic that stops an engine. The speeds and the
circuity are the project's own estimates for HCMC streets, not measurements.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from icc_city.river import route
from icc_dispatch.domain.model import Point, UnitKind
from icc_dispatch.domain.plans import local_hour


@dataclass(frozen=True)
class Trip:
    kind: UnitKind
    origin: Point


@dataclass(frozen=True)
class Eta:
    seconds: int
    meters: int
    # The river crossing taken, when the trip crosses the river.
    via: str | None = None


class EtaProvider(Protocol):
    """Travel time from each origin to one destination; None where there is no route."""

    @property
    def source(self) -> str: ...

    async def etas(
        self, trips: Sequence[Trip], destination: Point, at: datetime
    ) -> list[Eta | None]: ...


class Period(Enum):
    RUSH = "rush"
    DAY = "day"
    NIGHT = "night"


def period_of(hour: int) -> Period:
    if 6 <= hour < 9 or 16 <= hour < 19:
        return Period.RUSH
    if 9 <= hour < 22:
        return Period.DAY
    return Period.NIGHT


# km/h on the road, with lights and siren, by vehicle class and period.
SPEED_KMH: dict[str, dict[Period, float]] = {
    "motorbike": {Period.RUSH: 24.0, Period.DAY: 30.0, Period.NIGHT: 40.0},
    "car": {Period.RUSH: 16.0, Period.DAY: 28.0, Period.NIGHT: 42.0},
    "heavy": {Period.RUSH: 13.0, Period.DAY: 24.0, Period.NIGHT: 36.0},
}
# Road distance over straight-line distance in the city's street grid.
CIRCUITY = 1.4


def vehicle_class(kind: UnitKind) -> str:
    if kind.two_wheeled:
        return "motorbike"
    return "heavy" if kind.heavy else "car"


@dataclass(frozen=True)
class TravelModel:
    circuity: float = CIRCUITY

    @property
    def source(self) -> str:
        return "travel-model"

    def eta(self, trip: Trip, destination: Point, hour: int) -> Eta:
        trip_route = route(trip.origin, destination)
        meters = trip_route.length_m * self.circuity
        speed_ms = SPEED_KMH[vehicle_class(trip.kind)][period_of(hour)] / 3.6
        via = trip_route.via.name if trip_route.via else None
        return Eta(round(meters / speed_ms), round(meters), via)

    async def etas(
        self, trips: Sequence[Trip], destination: Point, at: datetime
    ) -> list[Eta | None]:
        hour = local_hour(at)
        return [self.eta(t, destination, hour) for t in trips]
