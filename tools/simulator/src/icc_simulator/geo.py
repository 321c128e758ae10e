"""Geometry for simulated driving: distances, the Saigon river and where to cross it.

The river line and crossings are the same hand-traced approximation the dispatch
service uses for its travel model (`icc_dispatch.domain.geo`), copied rather than
imported: the simulator is a partner system and only meets the services through
their public API. A unit that must cross the river drives straight to the best
crossing, then straight on: plausible paths, not road geometry.
"""

import itertools
import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp = p2 - p1
    dl = math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def heading_deg(a: Point, b: Point) -> float:
    """Initial bearing from `a` to `b`, degrees clockwise from north, 0-360."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def offset(p: Point, north_m: float, east_m: float) -> Point:
    """`p` moved by metres north and east (flat-earth, fine over a few kilometres)."""
    dlat = north_m / EARTH_RADIUS_M
    dlon = east_m / (EARTH_RADIUS_M * math.cos(math.radians(p.lat)))
    return Point(p.lat + math.degrees(dlat), p.lon + math.degrees(dlon))


@dataclass(frozen=True)
class Crossing:
    name: str
    point: Point


# North to south, upstream to the sea, as (lat, lon): see icc_dispatch.domain.geo.
SAIGON_RIVER: tuple[Point, ...] = tuple(
    Point(lat, lon)
    for lat, lon in (
        (11.300, 106.350),
        (11.150, 106.500),
        (11.030, 106.590),
        (10.980, 106.635),
        (10.940, 106.665),
        (10.887, 106.694),
        (10.866, 106.713),
        (10.845, 106.718),
        (10.823, 106.711),
        (10.815, 106.728),
        (10.800, 106.735),
        (10.797, 106.723),
        (10.787, 106.711),
        (10.775, 106.706),
        (10.765, 106.712),
        (10.757, 106.727),
        (10.745, 106.745),
        (10.725, 106.752),
        (10.700, 106.760),
        (10.665, 106.770),
        (10.600, 106.800),
        (10.500, 106.880),
        (10.400, 106.950),
    )
)

CROSSINGS: tuple[Crossing, ...] = (
    Crossing("Cầu Phú Cường", Point(10.980, 106.635)),
    Crossing("Cầu Phú Long", Point(10.888, 106.694)),
    Crossing("Cầu Bình Phước", Point(10.866, 106.713)),
    Crossing("Cầu Bình Triệu", Point(10.823, 106.711)),
    Crossing("Cầu Sài Gòn", Point(10.798, 106.723)),
    Crossing("Cầu Ba Son", Point(10.783, 106.709)),
    Crossing("Hầm Thủ Thiêm", Point(10.767, 106.711)),
    Crossing("Cầu Phú Mỹ", Point(10.745, 106.745)),
    Crossing("Phà Bình Khánh", Point(10.665, 106.770)),
)


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b.lon - a.lon) * (c.lat - a.lat) - (b.lat - a.lat) * (c.lon - a.lon)


def _segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    return (d1 > 0) != (d2 > 0) and (d3 > 0) != (d4 > 0)


def across_river(a: Point, b: Point) -> bool:
    """True when `a` and `b` lie on opposite banks: the straight line crosses the river
    an odd number of times (an even number is a meander, crossed twice)."""
    hits = sum(1 for p, q in itertools.pairwise(SAIGON_RIVER) if _segments_cross(a, b, p, q))
    return hits % 2 == 1


def route(a: Point, b: Point) -> tuple[list[Point], Crossing | None]:
    """The corners of a plausible path from `a` to `b`: straight, or through the crossing
    that makes the trip shortest when the river is in the way."""
    if not across_river(a, b):
        return [a, b], None
    best = min(CROSSINGS, key=lambda c: distance_m(a, c.point) + distance_m(c.point, b))
    return [a, best.point, b], best


def path_length_m(path: list[Point]) -> float:
    return sum(distance_m(p, q) for p, q in itertools.pairwise(path))


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
        return path_length_m(list(self.path))

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
