"""Estimated travel times: the `EtaProvider` interface and the default travel model.

The default model needs no network: `icc_city.travel` (straight-line distance, through a
river crossing when the trip must cross the Saigon river, times a circuity factor, at a
speed that depends on the kind of unit and the hour of day), at the city's local hour.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from icc_city.travel import CIRCUITY, Eta, estimate
from icc_dispatch.domain.model import Point, UnitKind
from icc_dispatch.domain.plans import local_hour
from icc_kernel.vocabulary import EtaSource

__all__ = ["Eta", "EtaProvider", "TravelModel", "Trip"]


@dataclass(frozen=True)
class Trip:
    kind: UnitKind
    origin: Point


class EtaProvider(Protocol):
    """Travel time from each origin to one destination; None where there is no route."""

    @property
    def source(self) -> EtaSource: ...

    async def etas(
        self, trips: Sequence[Trip], destination: Point, at: datetime
    ) -> list[Eta | None]: ...


@dataclass(frozen=True)
class TravelModel:
    circuity: float = CIRCUITY

    @property
    def source(self) -> EtaSource:
        return EtaSource.TRAVEL_MODEL

    def eta(self, trip: Trip, destination: Point, hour: int) -> Eta:
        return estimate(trip.origin, destination, trip.kind, hour, self.circuity)

    async def etas(
        self, trips: Sequence[Trip], destination: Point, at: datetime
    ) -> list[Eta | None]:
        hour = local_hour(at)
        return [self.eta(t, destination, hour) for t in trips]
