"""The service area: a simplified outline of Ho Chi Minh City (since July 2025), and
whether a place lies inside it.

The outline is `data/service_area.geojson`, accurate to a few kilometres: enough to refuse
a location in another province, not a legal boundary.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

Ring = tuple[tuple[float, float], ...]  # (lon, lat), in GeoJSON's order


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


@dataclass(frozen=True)
class ServiceArea:
    # Each polygon: exterior ring first, then holes.
    polygons: tuple[tuple[Ring, ...], ...]

    @classmethod
    def from_geojson(cls, document: Mapping[str, Any]) -> "ServiceArea":
        """The polygons and multipolygons of a GeoJSON FeatureCollection."""
        polygons: list[tuple[Ring, ...]] = []
        for feature in document["features"]:
            geometry = feature["geometry"]
            parts = (
                geometry["coordinates"]
                if geometry["type"] == "MultiPolygon"
                else [geometry["coordinates"]]
            )
            for polygon in parts:
                polygons.append(
                    tuple(tuple((float(x), float(y)) for x, y, *_ in ring) for ring in polygon)
                )
        return cls(tuple(polygons))

    def bounds(self) -> tuple[float, float, float, float]:
        """South, west, north and east edges of the outline (its bounding box)."""
        points = [p for exterior, *_ in self.polygons for p in exterior]
        lons, lats = [x for x, _ in points], [y for _, y in points]
        return min(lats), min(lons), max(lats), max(lons)

    def contains(self, lat: float, lon: float) -> bool:
        for exterior, *holes in self.polygons:
            if _in_ring(lon, lat, exterior) and not any(_in_ring(lon, lat, h) for h in holes):
                return True
        return False


def outline_geojson() -> dict[str, Any]:
    """The city's outline as a GeoJSON FeatureCollection, read afresh from the package's
    data: the caller owns the value and may change it."""
    text = (resources.files("icc_city") / "data" / "service_area.geojson").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def service_area() -> ServiceArea:
    """The city's service area, read once."""
    return ServiceArea.from_geojson(outline_geojson())
