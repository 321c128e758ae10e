"""The Saigon river and its crossings: which bank a place is on, and which bridge, tunnel
or ferry a trip between two places goes over.

The river line and the crossing points are the project's own approximation (a few dozen
points traced by hand, to within a few hundred metres), not survey data: enough to know
which side of the river a place is on and where to cross. A trip that must cross goes
straight to the crossing, then straight on: plausible paths, not road geometry.
"""

import itertools
from dataclasses import dataclass

from icc_city.geo import Point, distance_m, path_length_m

NAME_VI = "Sông Sài Gòn"
NAME_EN = "Saigon River"


@dataclass(frozen=True)
class Crossing:
    """A bridge, tunnel or ferry over the river."""

    name: str
    point: Point


# From upstream (Dầu Tiếng side) to the Nhà Bè junction and on to the sea, north to
# south, as (lat, lon).
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


# Each river segment with its bounding box: most trips are a few kilometres long
# and overlap the box of no segment at all, so they need no intersection test.
_SEGMENTS = tuple(
    (p, q, min(p.lat, q.lat), max(p.lat, q.lat), min(p.lon, q.lon), max(p.lon, q.lon))
    for p, q in itertools.pairwise(SAIGON_RIVER)
)


def _crossings_of_river(a: Point, b: Point) -> int:
    # Over a few kilometres, lat/lon is flat enough to test intersections in.
    lat_lo, lat_hi = min(a.lat, b.lat), max(a.lat, b.lat)
    lon_lo, lon_hi = min(a.lon, b.lon), max(a.lon, b.lon)
    return sum(
        1
        for p, q, s_lat_lo, s_lat_hi, s_lon_lo, s_lon_hi in _SEGMENTS
        if s_lat_lo <= lat_hi
        and lat_lo <= s_lat_hi
        and s_lon_lo <= lon_hi
        and lon_lo <= s_lon_hi
        and _segments_cross(a, b, p, q)
    )


def across_river(a: Point, b: Point) -> bool:
    """True when `a` and `b` lie on opposite banks: the straight line crosses the river an
    odd number of times (an even number is a meander, crossed twice)."""
    return _crossings_of_river(a, b) % 2 == 1


@dataclass(frozen=True)
class Route:
    """A trip's corners, from start to destination, and the crossing it goes over (if any)."""

    path: tuple[Point, ...]
    via: Crossing | None

    @property
    def length_m(self) -> float:
        """Straight-line length along the corners."""
        return path_length_m(self.path)


def route(a: Point, b: Point) -> Route:
    """The trip from `a` to `b`: straight, or through the crossing that makes it shortest
    when the river is in the way."""
    if not across_river(a, b):
        return Route((a, b), None)
    best = min(CROSSINGS, key=lambda c: distance_m(a, c.point) + distance_m(c.point, b))
    return Route((a, best.point, b), best)
