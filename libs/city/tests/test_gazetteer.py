"""The gazetteer: its data is what the build script makes of its sources, and the search
forgives diacritics, abbreviations and typos."""

import importlib.util
import time
from pathlib import Path

import pytest

from icc_city.area import service_area
from icc_city.gazetteer import gazetteer, normalize
from icc_city.geo import Point

ROOT = Path(__file__).resolve().parents[3]
CENTRE = Point(10.7769, 106.7009)


def test_the_committed_gazetteer_is_what_the_build_script_makes() -> None:
    spec = importlib.util.spec_from_file_location(
        "build_gazetteer", ROOT / "libs" / "city" / "scripts" / "build_gazetteer.py"
    )
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = (ROOT / "libs/city/src/icc_city/data/gazetteer.json").read_text(encoding="utf-8")
    assert script.render() == committed, "run libs/city/scripts/build_gazetteer.py"


def test_every_ward_of_the_city_and_every_place_inside_it() -> None:
    places = gazetteer().places
    kinds = [p.kind for p in places]
    assert kinds.count("ward") == 113
    assert kinds.count("commune") == 54
    assert kinds.count("special_zone") == 1
    area = service_area()
    assert all(area.contains(p.point.lat, p.point.lon) for p in places)


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("Chợ Bến Thành", "cho ben thanh"),
        ("Q.1", "quan 1"),
        ("q1", "quan 1"),
        ("P. Tân Định", "phuong tan dinh"),
        ("BV Chợ Rẫy", "benh vien cho ray"),
        ("  Đường   3/2 ", "duong 3 2"),
    ],
)
def test_a_query_is_normalized_as_people_type(typed: str, normal: str) -> None:
    assert normalize(typed) == normal


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("cho ben thnah", "Chợ Bến Thành"),
        ("Q1", "Quận 1"),
        ("quan 10", "Quận 10"),
        ("benh vien cho ray", "Bệnh viện Chợ Rẫy"),
        ("cau sai gon", "Cầu Sài Gòn"),
    ],
)
def test_search_puts_the_right_place_first(query: str, label: str) -> None:
    assert gazetteer().search(query, CENTRE, 3)[0].place.label == label


def test_among_names_alike_the_nearer_comes_first() -> None:
    # "An Phú": a ward in the north (Thuận An) and "An Phú Đông" nearer the centre score
    # differently; two exact namesakes are ordered by distance.
    near_thu_dau_mot = Point(10.98, 106.655)
    first = gazetteer().search("an phu", near_thu_dau_mot, 2)[0]
    assert first.place.label == "Phường An Phú"
    assert first.distance_m is not None


def test_nothing_for_nothing_and_a_search_takes_milliseconds() -> None:
    assert gazetteer().search("  ", CENTRE) == []
    started = time.process_time()
    for _ in range(20):
        gazetteer().search("cho ben thanh", CENTRE)
    assert (time.process_time() - started) / 20 < 0.02
