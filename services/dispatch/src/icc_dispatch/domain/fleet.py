"""The fleet as dispatch sees it, with a grid index of available units by kind.

Candidate search asks "the n nearest available units of this kind". A uniform
grid answers it by looking at rings of cells around the incident until the n-th
best found is nearer than any unseen cell could be, so its cost follows the
units near the incident, not the size of the fleet. Kinds with few available
units (a city has three hazmat units) are scanned instead: cheaper than rings.
"""

import heapq
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from icc_city.geo import EARTH_RADIUS_M, distance_m
from icc_dispatch.domain.model import Agency, FleetUnit, Point, UnitKind

CELL_DEG = 0.01  # about 1.1 km
# A cell's side in metres by the same earth as `distance_m` (a larger figure would
# let the search stop a ring early).
_CELL_M_AT_EQUATOR = math.radians(CELL_DEG) * EARTH_RADIUS_M
# Below this many available units of a kind, a scan is cheaper than rings.
SCAN_BELOW = 48
# Nothing in the service area is further than this many cells away.
MAX_RING = 400

Cell = tuple[int, int]


def cell_of(p: Point) -> Cell:
    return (math.floor(p.lat / CELL_DEG), math.floor(p.lon / CELL_DEG))


@dataclass
class _KindIndex:
    cells: dict[Cell, set[str]] = field(default_factory=dict)
    size: int = 0


class Fleet:
    def __init__(self, units: Iterable[FleetUnit] = ()) -> None:
        self.units: dict[str, FleetUnit] = {}
        self._index: dict[UnitKind, _KindIndex] = {}
        # Where each indexed unit is filed: its cell, kind and home station as indexed.
        self._filed: dict[str, tuple[Cell, UnitKind, str]] = {}
        # Available units by (home station, kind): the coverage a departure leaves.
        self._at_station: dict[tuple[str, UnitKind], set[str]] = {}
        # Units this process has just proposed for an incident: not offered again
        # until the resources service's answer or news of the unit arrives.
        self.held: set[str] = set()
        for u in units:
            self.put(u)

    def __len__(self) -> int:
        return len(self.units)

    def get(self, unit_id: str) -> FleetUnit | None:
        return self.units.get(unit_id)

    def put(self, unit: FleetUnit) -> bool:
        """Adds or replaces a unit; older news (a lower version) is ignored."""
        old = self.units.get(unit.id)
        if old is not None and unit.version < old.version:
            return False
        if old is not None and unit.position is None:
            unit = unit.moved(old.position)
        self.units[unit.id] = unit
        self._reindex(unit)
        return True

    def move(self, unit_id: str, position: Point) -> None:
        unit = self.units.get(unit_id)
        if unit is None:
            return
        moved = unit.moved(position)
        self.units[unit_id] = moved
        filed = self._filed.get(unit_id)
        if filed is not None and cell_of(position) != filed[0]:
            self._reindex(moved)

    def _reindex(self, unit: FleetUnit) -> None:
        self._unindex(unit.id)
        if unit.available:
            cell = cell_of(unit.location)
            index = self._index.setdefault(unit.kind, _KindIndex())
            index.cells.setdefault(cell, set()).add(unit.id)
            index.size += 1
            self._filed[unit.id] = (cell, unit.kind, unit.home_station)
            self._at_station.setdefault((unit.home_station, unit.kind), set()).add(unit.id)

    def _unindex(self, unit_id: str) -> None:
        filed = self._filed.pop(unit_id, None)
        if filed is None:
            return
        cell, kind, station = filed
        index = self._index[kind]
        self._at_station[(station, kind)].discard(unit_id)
        bucket = index.cells[cell]
        bucket.discard(unit_id)
        if not bucket:
            del index.cells[cell]
        index.size -= 1

    def available_count(self, kind: UnitKind) -> int:
        index = self._index.get(kind)
        return index.size if index else 0

    def available(
        self, kinds: frozenset[UnitKind] = frozenset(), agencies: frozenset[Agency] = frozenset()
    ) -> list[FleetUnit]:
        """Every available unit of these kinds and agencies (none given: any), but those
        held for a proposal."""
        out = []
        for kind, index in self._index.items():
            if kinds and kind not in kinds:
                continue
            for bucket in index.cells.values():
                for uid in bucket:
                    unit = self.units[uid]
                    if uid not in self.held and (not agencies or unit.agency in agencies):
                        out.append(unit)
        return out

    def nearest(
        self, kind: UnitKind, point: Point, n: int, exclude: frozenset[str] | set[str] = frozenset()
    ) -> list[tuple[float, FleetUnit]]:
        """Up to n available units of `kind` nearest to `point` in a straight line."""
        index = self._index.get(kind)
        if index is None or n <= 0:
            return []
        skip = self.held | set(exclude)
        if index.size <= SCAN_BELOW:
            ids: Iterable[str] = (u for bucket in index.cells.values() for u in bucket)
            return self._best(ids, point, n, skip)
        found: list[tuple[float, str]] = []
        seen = 0
        origin = cell_of(point)
        # An unseen cell in ring r + 1 is at least r whole cells away; cells narrow
        # with latitude, so take the narrowest a nearby ring can have.
        cell_m = _CELL_M_AT_EQUATOR * math.cos(math.radians(min(89.0, abs(point.lat) + 1.0)))
        for r in range(MAX_RING + 1):
            for cell in _ring(origin, r):
                bucket = index.cells.get(cell)
                if not bucket:
                    continue
                seen += len(bucket)
                found.extend(
                    (distance_m(point, self.units[uid].location), uid)
                    for uid in bucket
                    if uid not in skip
                )
            if seen >= index.size:
                break
            if len(found) >= n and heapq.nsmallest(n, found)[-1][0] < r * cell_m:
                break
        best = heapq.nsmallest(n, found)
        return [(d, self.units[u]) for d, u in best]

    def _best(
        self, ids: Iterable[str], point: Point, n: int, skip: set[str]
    ) -> list[tuple[float, FleetUnit]]:
        scored = (
            (distance_m(point, self.units[u].location), self.units[u]) for u in ids if u not in skip
        )
        return heapq.nsmallest(n, scored, key=lambda t: (t[0], t[1].id))

    def coverage_left(self, unit: FleetUnit) -> int:
        """Available units of the same kind at the unit's home station once it leaves."""
        peers = self._at_station.get((unit.home_station, unit.kind), set())
        return sum(1 for u in peers if u != unit.id and u not in self.held)


def _ring(center: Cell, r: int) -> Iterator[Cell]:
    ci, cj = center
    if r == 0:
        yield center
        return
    for dj in range(-r, r + 1):
        yield (ci - r, cj + dj)
        yield (ci + r, cj + dj)
    for di in range(-r + 1, r):
        yield (ci + di, cj - r)
        yield (ci + di, cj + r)
