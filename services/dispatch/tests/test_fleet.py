"""The fleet index: nearest available units by kind, versions, moves, coverage."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icc_city.geo import distance_m
from icc_dispatch.domain.fleet import SCAN_BELOW, Fleet, cell_of
from icc_dispatch.domain.model import (
    FleetUnit,
    Point,
    UnitKind,
    UnitStatus,
)

from .conftest import (
    SAIGON,
    SAIGON_NEAR,
    K,
    unit,
)


def brute_nearest(
    fleet: Fleet, kind: UnitKind, point: Point, n: int, exclude: set[str]
) -> list[tuple[float, str]]:
    pool = [
        (distance_m(point, u.location), u.id)
        for u in fleet.units.values()
        if u.kind is kind and u.available and u.id not in exclude and u.id not in fleet.held
    ]
    return sorted(pool)[: max(n, 0)]


LAT = st.floats(10.6, 11.0, allow_nan=False)
LON = st.floats(106.5, 106.9, allow_nan=False)
# (lat, lon, located-by-position?, excluded?, held?)
TARGET = st.tuples(LAT, LON, st.booleans(), st.integers(0, 9), st.integers(0, 19))
# (lat, lon, kind, status)
OTHER = st.tuples(
    LAT,
    LON,
    st.sampled_from([K.ENGINE, K.LADDER, K.AMBULANCE_ALS]),
    st.sampled_from(list(UnitStatus)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    targets=st.one_of(
        # Scanned: at most SCAN_BELOW available units of the kind.
        st.lists(TARGET, max_size=SCAN_BELOW, unique_by=lambda t: (t[0], t[1])),
        # Ring search over the grid.
        st.lists(TARGET, min_size=SCAN_BELOW + 1, max_size=260, unique_by=lambda t: (t[0], t[1])),
    ),
    others=st.lists(OTHER, max_size=40),
    point=st.tuples(LAT, LON),
    n=st.integers(0, 30),
)
def test_nearest_matches_brute_force(
    targets: list[tuple[float, float, bool, int, int]],
    others: list[tuple[float, float, UnitKind, UnitStatus]],
    point: tuple[float, float],
    n: int,
) -> None:
    units = []
    exclude: set[str] = set()
    held: set[str] = set()
    far_home = Point(10.95, 106.55)
    for i, (lat, lon, by_position, ex, hd) in enumerate(targets):
        uid = f"t{i:03d}"
        where = Point(lat, lon)
        if by_position:
            # A fresh position wins over the home station.
            units.append(unit(uid, far_home, position=where, station=f"S{i % 7}"))
        else:
            units.append(unit(uid, where, station=f"S{i % 7}"))
        if ex == 0:
            exclude.add(uid)
        if hd == 0:
            held.add(uid)
    for i, (lat, lon, kind, status) in enumerate(others):
        units.append(unit(f"o{i:03d}", Point(lat, lon), kind, status=status))
    fleet = Fleet(units)
    fleet.held |= held
    if len(targets) > SCAN_BELOW:
        assert fleet.available_count(K.ENGINE) > SCAN_BELOW  # the ring search runs
    here = Point(*point)
    expected = brute_nearest(fleet, K.ENGINE, here, n, exclude)
    got = fleet.nearest(K.ENGINE, here, n, frozenset(exclude))
    assert [u.id for _, u in got] == [uid for _, uid in expected]
    assert [d for d, _ in got] == [d for d, _ in expected]
    for _, u in got:
        assert u.kind is K.ENGINE and u.available


def _ring_fleet(extra: list[FleetUnit]) -> Fleet:
    # Enough far-away engines that the kind is searched by rings, not scanned.
    filler = [
        unit(f"z{i:02d}", Point(10.95, 106.55 + i * 0.002), station="FAR")
        for i in range(SCAN_BELOW + 5)
    ]
    fleet = Fleet(extra + filler)
    assert fleet.available_count(K.ENGINE) > SCAN_BELOW
    return fleet


def test_nearest_orders_ties_by_id_in_ring_search() -> None:
    # Six engines at their shared home station (no position): equidistant from anywhere.
    # They sit in the incident's own cell (ring 0); a nearer engine just across the
    # cell's edge (ring 1) is found after them and evicts one of the tied ones.
    here = Point(10.7701, 106.7050)
    home = Point(10.7790, 106.7050)
    near = unit("c", Point(10.7699, 106.7050))
    assert cell_of(home) == cell_of(here) != cell_of(near.home)
    at_home = [unit(f"t{i}", home) for i in range(6)]
    scanned = Fleet([near, *at_home]).nearest(K.ENGINE, here, 2)
    assert [u.id for _, u in scanned] == ["c", "t0"]
    ringed = _ring_fleet([near, *at_home]).nearest(K.ENGINE, here, 2)
    assert [u.id for _, u in ringed] == ["c", "t0"]


def test_nearest_ring_stop_bound_is_not_optimistic() -> None:
    here = Point(10.755, 106.709999)  # at the east edge of its cell
    a = unit("a", Point(10.755 + 1093.2 / 111_195, 106.709999))  # ring 1, due north
    b = unit("b", Point(10.755, 106.720001))  # ring 2, due east
    assert cell_of(a.home)[0] - cell_of(here)[0] == 1
    assert cell_of(b.home)[1] - cell_of(here)[1] == 2
    assert distance_m(here, b.home) < distance_m(here, a.home)
    got = _ring_fleet([a, b]).nearest(K.ENGINE, here, 1)
    assert [u.id for _, u in got] == ["b"]


def test_nearest_basics() -> None:
    fleet = Fleet(
        [
            unit("e1", Point(10.78, 106.70)),
            unit("e2", Point(10.79, 106.70)),
            unit("busy", Point(10.7769, 106.7009), status=UnitStatus.DISPATCHED),
            unit("tied", Point(10.7769, 106.7009), incident_id="i9"),
            unit("l1", Point(10.7769, 106.7009), K.LADDER),
        ]
    )
    got = fleet.nearest(K.ENGINE, SAIGON, 5)
    assert [u.id for _, u in got] == ["e1", "e2"]
    assert fleet.nearest(K.ENGINE, SAIGON, 0) == []
    assert fleet.nearest(K.HAZMAT, SAIGON, 3) == []
    assert [u.id for _, u in fleet.nearest(K.ENGINE, SAIGON, 5, {"e1"})] == ["e2"]
    fleet.held.add("e2")
    assert [u.id for _, u in fleet.nearest(K.ENGINE, SAIGON, 5)] == ["e1"]
    assert fleet.available_count(K.ENGINE) == 2
    assert fleet.available_count(K.LADDER) == 1


def test_put_ignores_older_version_and_keeps_position() -> None:
    fleet = Fleet()
    assert fleet.put(unit("e1", SAIGON, version=5, position=SAIGON_NEAR))
    assert not fleet.put(unit("e1", SAIGON, version=4, status=UnitStatus.OUT_OF_SERVICE))
    e1 = fleet.get("e1")
    assert e1 is not None and e1.version == 5 and e1.available
    assert fleet.available_count(K.ENGINE) == 1
    # Newer news without a position keeps the last known one.
    assert fleet.put(unit("e1", SAIGON, version=6))
    e1 = fleet.get("e1")
    assert e1 is not None and e1.location == SAIGON_NEAR
    # Newer news that the unit is busy takes it out of the index.
    assert fleet.put(unit("e1", SAIGON, version=7, status=UnitStatus.EN_ROUTE))
    assert fleet.available_count(K.ENGINE) == 0
    assert fleet.nearest(K.ENGINE, SAIGON, 1) == []
    assert len(fleet) == 1
    # And back again.
    assert fleet.put(unit("e1", SAIGON, version=8))
    assert [u.id for _, u in fleet.nearest(K.ENGINE, SAIGON, 1)] == ["e1"]


def test_move_reindexes() -> None:
    mover = unit("m", Point(10.70, 106.60))
    fleet = _ring_fleet([mover])
    target = Point(10.85, 106.75)
    # Before the move the nearest to the target is one of the far filler units.
    assert fleet.nearest(K.ENGINE, target, 1)[0][1].id != "m"
    fleet.move("m", Point(10.8501, 106.7501))
    (d, got), *_ = fleet.nearest(K.ENGINE, target, 1)
    assert got.id == "m"
    assert d == pytest.approx(distance_m(target, Point(10.8501, 106.7501)))
    # Seen from its old place, it is as far away as its new position.
    seen = {u.id: d for d, u in fleet.nearest(K.ENGINE, Point(10.70, 106.60), len(fleet))}
    assert seen["m"] == pytest.approx(distance_m(Point(10.70, 106.60), Point(10.8501, 106.7501)))
    assert seen["m"] > 20_000
    # A move within the same cell updates the distance.
    closer = Point(10.85002, 106.75002)
    assert cell_of(closer) == cell_of(Point(10.8501, 106.7501))
    fleet.move("m", closer)
    (d2, got2), *_ = fleet.nearest(K.ENGINE, target, 1)
    assert got2.id == "m" and d2 < d
    assert fleet.available_count(K.ENGINE) == SCAN_BELOW + 6
    fleet.move("nobody", target)  # no error
    assert fleet.get("nobody") is None


def test_coverage_left() -> None:
    e1, e2, e3 = (unit(f"e{i}", SAIGON, station="S1") for i in (1, 2, 3))
    fleet = Fleet(
        [
            e1,
            e2,
            e3,
            unit("busy", SAIGON, station="S1", status=UnitStatus.ON_SCENE),
            unit("l1", SAIGON, K.LADDER, station="S1"),
            unit("other", SAIGON, station="S2"),
        ]
    )
    assert fleet.coverage_left(e1) == 2
    fleet.held.add("e2")
    assert fleet.coverage_left(e1) == 1
    assert fleet.coverage_left(e2) == 2
    fleet.put(unit("e3", SAIGON, station="S1", status=UnitStatus.DISPATCHED, version=1))
    assert fleet.coverage_left(e1) == 0
    l1 = fleet.get("l1")
    assert l1 is not None and fleet.coverage_left(l1) == 0
    other = fleet.get("other")
    assert other is not None and fleet.coverage_left(other) == 0


def test_a_unit_moved_to_another_station_or_kind_is_refiled() -> None:
    fleet = Fleet([unit("e1", Point(10.77, 106.70), station="S1")])
    fleet.put(unit("e1", Point(10.80, 106.66), K.LADDER, station="S2", version=1))
    assert fleet.nearest(K.ENGINE, Point(10.77, 106.70), 5) == []
    assert [u.id for _, u in fleet.nearest(K.LADDER, Point(10.77, 106.70), 5)] == ["e1"]
    other = unit("l2", Point(10.80, 106.66), K.LADDER, station="S2")
    fleet.put(other)
    assert fleet.coverage_left(other) == 1
