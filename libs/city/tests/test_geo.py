"""Distances, path lengths, bearings and offsets on the earth."""

import pytest

from icc_city.geo import Point, distance_m, heading_deg, offset, path_length_m

BEN_THANH = Point(10.7725, 106.6980)
THU_THIEM = Point(10.7800, 106.7300)


def test_distance_of_one_degree_of_latitude() -> None:
    assert distance_m(Point(10.0, 106.7), Point(11.0, 106.7)) == pytest.approx(111_000, rel=0.005)
    assert distance_m(BEN_THANH, BEN_THANH) == 0
    assert distance_m(BEN_THANH, THU_THIEM) == pytest.approx(distance_m(THU_THIEM, BEN_THANH))
    # 0.01 degree of longitude at the city's latitude: ~1.09 km.
    assert distance_m(Point(10.8, 106.70), Point(10.8, 106.71)) == pytest.approx(1092, rel=0.005)


def test_path_length_is_the_sum_of_its_legs() -> None:
    middle = Point(10.7900, 106.7100)
    legs = distance_m(BEN_THANH, middle) + distance_m(middle, THU_THIEM)
    assert path_length_m((BEN_THANH, middle, THU_THIEM)) == pytest.approx(legs)
    assert path_length_m((BEN_THANH, THU_THIEM)) == distance_m(BEN_THANH, THU_THIEM)
    assert path_length_m((BEN_THANH,)) == 0


@pytest.mark.parametrize(
    ("north_m", "east_m", "heading"),
    [(1000, 0, 0.0), (0, 1000, 90.0), (-1000, 0, 180.0), (0, -1000, 270.0), (700, 700, 45.0)],
)
def test_offset_moves_by_metres_in_the_direction_of_the_heading(
    north_m: float, east_m: float, heading: float
) -> None:
    moved = offset(BEN_THANH, north_m, east_m)
    assert distance_m(BEN_THANH, moved) == pytest.approx((north_m**2 + east_m**2) ** 0.5, rel=0.002)
    assert heading_deg(BEN_THANH, moved) == pytest.approx(heading, abs=0.1)
