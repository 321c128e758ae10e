"""Finding the place a caller names: the city's gazetteer (`icc_city.gazetteer`), and a
deployment's geocoder first where one is configured (`geocoder.py`), the gazetteer
answering alone whenever the geocoder fails, is slow or finds nothing.

A query is what a caller said: it is never logged (it may be their home address).
"""

import logging
import math
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from icc_city.gazetteer import Gazetteer, Match
from icc_city.geo import Point, distance_m
from icc_incidents.domain.model import Location
from icc_kernel.errors import Violation, raise_if_any
from icc_kernel.vocabulary import PlaceKind

log = logging.getLogger(__name__)

MAX_QUERY = 200
MOST_RESULTS = 50
DEFAULT_RESULTS = 10
# A gazetteer place this close to one the geocoder found is the same place.
SAME_PLACE_M = 100.0


@dataclass(frozen=True)
class FoundPlace:
    id: str
    label: str
    kind: PlaceKind
    location: Location
    approximate: bool
    matched: str
    # 0 to 1.
    score: float
    distance_m: float | None
    # A former district: today's wards and communes it became.
    wards: tuple[str, ...] = ()
    source: str = "gazetteer"


class GeocoderError(Exception):
    """The geocoder could not answer (unreachable, slow, refused): the gazetteer answers."""


class Geocoder(Protocol):
    async def search(self, query: str, near: Point | None, limit: int) -> list[FoundPlace]: ...

    async def close(self) -> None: ...


def check_query(query: str, near: Location | None, max_results: int) -> int:
    """The number of results to give; InvalidInput naming each bad field."""
    out: list[Violation] = []
    if not query.strip():
        out.append(Violation("query", "required: what the caller said, e.g. Chợ Bến Thành"))
    elif len(query) > MAX_QUERY:
        out.append(Violation("query", f"at most {MAX_QUERY} characters (got {len(query)})"))
    elif any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in query):
        out.append(Violation("query", "must not contain control characters"))
    if near is not None and not (
        math.isfinite(near.lat)
        and math.isfinite(near.lon)
        and -90 <= near.lat <= 90
        and -180 <= near.lon <= 180
    ):
        out.append(Violation("near", "must be a latitude and longitude"))
    if max_results < 0:
        out.append(Violation("max_results", "must not be negative"))
    raise_if_any(out)
    return min(max_results or DEFAULT_RESULTS, MOST_RESULTS)


def _from_gazetteer(m: Match) -> FoundPlace:
    p = m.place
    return FoundPlace(
        id=p.id,
        label=p.label,
        kind=PlaceKind[p.kind.upper()],
        location=Location(p.point.lat, p.point.lon, p.label, p.ward),
        approximate=True,
        matched=m.matched,
        score=m.score,
        distance_m=round(m.distance_m, 1) if m.distance_m is not None else None,
        wards=p.wards,
    )


@dataclass
class PlaceSearch:
    gazetteer: Gazetteer
    geocoder: Geocoder | None = None

    async def search(self, query: str, near: Location | None, max_results: int) -> list[FoundPlace]:
        limit = check_query(query, near, max_results)
        centre = Point(near.lat, near.lon) if near is not None else None
        found = [_from_gazetteer(m) for m in self.gazetteer.search(query, centre, limit)]
        if self.geocoder is None:
            return found
        try:
            coded = await self.geocoder.search(query, centre, limit)
        except GeocoderError as exc:
            # The reason only: the query may be a caller's address.
            log.warning("geocoder unavailable, the gazetteer answers", extra={"reason": str(exc)})
            return found
        # The geocoder's first (it knows house numbers); a gazetteer place it found too
        # is not offered twice.
        others = [f for f in found if not any(_same(f, c) for c in coded)]
        return (coded + others)[:limit]


def _same(a: FoundPlace, b: FoundPlace) -> bool:
    near = distance_m(Point(a.location.lat, a.location.lon), Point(b.location.lat, b.location.lon))
    return near < SAME_PLACE_M and a.label.casefold() == b.label.casefold()
