"""Places on the earth and the distances and bearings between them.

Distances and bearings are on a sphere of the earth's mean radius: within a few
metres in a city, which is all a travel estimate needs.
"""

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Point:
    """A place by latitude and longitude, in degrees (WGS 84)."""

    lat: float
    lon: float


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp = p2 - p1
    dl = math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def path_length_m(path: Iterable[Point]) -> float:
    """Length of a path of straight legs from corner to corner."""
    return sum(distance_m(p, q) for p, q in itertools.pairwise(path))


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
