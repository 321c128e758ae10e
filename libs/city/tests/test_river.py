"""Which bank a place is on, and which crossing a trip between two places goes over."""

import itertools

from hypothesis import given
from hypothesis import strategies as st

from icc_city.geo import Point, distance_m
from icc_city.river import CROSSINGS, SAIGON_RIVER, _segments_cross, across_river, route

# District 1 (west bank) and Thủ Thiêm (east bank).
BEN_THANH = Point(10.7725, 106.6980)
SAIGON = Point(10.7769, 106.7009)
SAIGON_NEAR = Point(10.7800, 106.6950)
THU_THIEM = Point(10.7800, 106.7300)


def test_across_river() -> None:
    assert not across_river(SAIGON, SAIGON_NEAR)
    assert across_river(SAIGON, THU_THIEM)
    assert across_river(THU_THIEM, SAIGON)
    # Both on the east bank.
    assert not across_river(THU_THIEM, Point(10.7900, 106.7500))


def test_a_trip_across_the_river_goes_over_the_crossing_that_makes_it_shortest() -> None:
    east = Point(10.7900, 106.7430)
    trip = route(BEN_THANH, east)
    assert trip.via in CROSSINGS
    assert trip.path == (BEN_THANH, trip.via.point, east)
    assert trip.length_m > distance_m(BEN_THANH, east)
    assert trip.length_m == min(
        distance_m(BEN_THANH, c.point) + distance_m(c.point, east) for c in CROSSINGS
    )


def test_a_trip_on_one_bank_needs_no_crossing() -> None:
    same_bank = Point(10.7535, 106.6590)
    trip = route(BEN_THANH, same_bank)
    assert trip.via is None
    assert trip.path == (BEN_THANH, same_bank)
    assert trip.length_m == distance_m(BEN_THANH, same_bank)


def test_the_river_runs_north_to_south_and_every_crossing_is_on_it() -> None:
    assert all(p.lat > q.lat for p, q in itertools.pairwise(SAIGON_RIVER))
    for crossing in CROSSINGS:
        nearest = min(distance_m(crossing.point, p) for p in SAIGON_RIVER)
        assert nearest < 1500, crossing.name


_LAT = st.floats(10.60, 11.00)
_LON = st.floats(106.55, 106.85)


@given(_LAT, _LON, _LAT, _LON)
def test_the_bounding_box_shortcut_agrees_with_testing_every_segment(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    a, b = Point(lat1, lon1), Point(lat2, lon2)
    hits = sum(1 for p, q in itertools.pairwise(SAIGON_RIVER) if _segments_cross(a, b, p, q))
    assert across_river(a, b) is (hits % 2 == 1)
