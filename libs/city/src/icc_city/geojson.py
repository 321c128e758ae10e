"""The city as the dispatcher screen draws it: one GeoJSON FeatureCollection of the
outline and the river, built from the same data the service-area check and the travel
model use.

The screen styles each feature by `properties.kind`: "city" (the outline, which the map
is fitted to) or "river".
"""

from typing import Any

from icc_city import river
from icc_city.area import outline_geojson


def river_feature() -> dict[str, Any]:
    """The Saigon river as a GeoJSON LineString feature, north to south."""
    return {
        "type": "Feature",
        "properties": {
            "kind": "river",
            "name_vi": river.NAME_VI,
            "name_en": river.NAME_EN,
            "approximate": True,
            "note": "Traced by hand, north to south; the project's own approximation.",
        },
        "geometry": {
            "type": "LineString",
            "coordinates": [[p.lon, p.lat] for p in river.SAIGON_RIVER],
        },
    }


def city_map() -> dict[str, Any]:
    """The screen's map: the city's outline (kind "city") and the river (kind "river")."""
    outline = outline_geojson()
    city = [
        {**feature, "properties": {"kind": "city", **feature.get("properties", {})}}
        for feature in outline["features"]
    ]
    return {"type": "FeatureCollection", "features": [*city, river_feature()]}
