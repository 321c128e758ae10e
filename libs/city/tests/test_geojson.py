"""The screen's map: the city's outline and the river, from the same data as the checks."""

import json

from icc_city.area import outline_geojson, service_area
from icc_city.geojson import city_map
from icc_city.river import SAIGON_RIVER


def test_the_map_has_the_outline_and_the_river() -> None:
    features = city_map()["features"]
    assert {f["properties"]["kind"] for f in features} == {"city", "river"}
    city = next(f for f in features if f["properties"]["kind"] == "city")
    river = next(f for f in features if f["properties"]["kind"] == "river")

    assert city["geometry"] == outline_geojson()["features"][0]["geometry"]
    assert city["properties"]["name_en"] == "Ho Chi Minh City"
    assert city["properties"]["approximate"] is True

    assert river["geometry"]["type"] == "LineString"
    assert river["geometry"]["coordinates"] == [[p.lon, p.lat] for p in SAIGON_RIVER]
    assert river["properties"]["name_vi"] == "Sông Sài Gòn"
    # The river runs through the city it is drawn in.
    assert all(service_area().contains(lat, lon) for lon, lat in river["geometry"]["coordinates"])


def test_the_map_is_plain_json_and_each_caller_gets_its_own() -> None:
    first = city_map()
    assert json.loads(json.dumps(first)) == first
    first["features"].clear()
    first_outline = outline_geojson()
    first_outline["features"].clear()
    assert len(city_map()["features"]) == 2
    assert outline_geojson()["features"]
