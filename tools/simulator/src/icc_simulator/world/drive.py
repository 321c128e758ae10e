"""Simulated driving: a unit's trip along straight legs (through a river crossing when it
must cross, see `icc_city.river.route`) and where the unit is at any simulated second."""

import itertools
from dataclasses import dataclass

from icc_city.geo import Point, distance_m, heading_deg, path_length_m


@dataclass(frozen=True)
class Fix:
    """Where a moving unit is: position, heading (degrees) and speed (m/s)."""

    point: Point
    heading: float
    speed_ms: float


@dataclass(frozen=True)
class Drive:
    """A trip along `path` started at simulated second `start_s`, at `speed_ms` along the
    straight segments. Road distance is longer than straight lines (`circuity`), so the
    unit moves along the segments at speed / circuity: it arrives when the road trip would."""

    path: tuple[Point, ...]
    start_s: float
    speed_ms: float
    circuity: float = 1.0
    via: str | None = None

    @property
    def straight_m(self) -> float:
        return path_length_m(self.path)

    @property
    def road_m(self) -> float:
        return self.straight_m * self.circuity

    @property
    def duration_s(self) -> float:
        return self.road_m / self.speed_ms if self.speed_ms > 0 else 0.0

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def destination(self) -> Point:
        return self.path[-1]

    def fix_at(self, sim_s: float) -> Fix:
        """Position at simulated second `sim_s` (clamped to the trip's start and end)."""
        if len(self.path) < 2 or self.duration_s <= 0:
            return Fix(self.path[-1], 0.0, 0.0)
        done = min(1.0, max(0.0, (sim_s - self.start_s) / self.duration_s))
        along = done * self.straight_m
        for p, q in itertools.pairwise(self.path):
            leg = distance_m(p, q)
            if along <= leg or q == self.path[-1]:
                f = 0.0 if leg == 0 else min(1.0, along / leg)
                here = Point(p.lat + (q.lat - p.lat) * f, p.lon + (q.lon - p.lon) * f)
                moving = 0.0 < done < 1.0
                return Fix(here, heading_deg(p, q), self.speed_ms if moving else 0.0)
            along -= leg
        return Fix(self.path[-1], 0.0, 0.0)  # pragma: no cover - the loop always returns
