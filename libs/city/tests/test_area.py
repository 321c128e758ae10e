"""The service area: which places are inside Ho Chi Minh City."""

from importlib import resources

import pytest

from icc_city.area import ServiceArea, service_area


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Bến Thành", 10.7725, 106.6980),
        ("Thủ Dầu Một", 10.98, 106.65),
        ("Vũng Tàu", 10.346, 107.084),
        ("Cần Giờ", 10.41, 106.96),
        ("Côn Đảo", 8.68, 106.61),
    ],
)
def test_inside_the_city(place: str, lat: float, lon: float) -> None:
    assert service_area().contains(lat, lon), place


@pytest.mark.parametrize(
    ("place", "lat", "lon"),
    [
        ("Biên Hòa", 10.95, 106.82),
        ("Tân An", 10.54, 106.41),
        ("Hà Nội", 21.03, 105.85),
    ],
)
def test_outside_the_city(place: str, lat: float, lon: float) -> None:
    assert not service_area().contains(lat, lon), place


def test_a_polygon_with_a_hole() -> None:
    square = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]]
    hole = [[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0], [1.0, 1.0]]
    area = ServiceArea.from_geojson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [square, hole]},
                }
            ],
        }
    )
    assert area.contains(lat=0.5, lon=0.5)
    assert not area.contains(lat=2.0, lon=2.0)
    assert not area.contains(lat=5.0, lon=2.0)
    assert area.bounds() == (0.0, 0.0, 4.0, 4.0)


def test_the_city_lies_within_its_bounds() -> None:
    south, west, north, east = service_area().bounds()
    # From Côn Đảo in the sea to the north of Thủ Dầu Một, and to Vũng Tàu in the east.
    assert south < 8.68 < 10.98 < north
    assert west < 106.61 < 107.084 < east


def test_the_outline_is_package_data() -> None:
    assert (resources.files("icc_city") / "data" / "service_area.geojson").is_file()
