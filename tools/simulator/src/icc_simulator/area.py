"""The service area: the incidents service refuses locations outside it, so every
simulated call is placed inside. `data/service_area.geojson` is a copy of the incidents
service's outline (a test keeps the two equal)."""

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

Ring = tuple[tuple[float, float], ...]  # (lon, lat)


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
    def from_geojson(cls, text: str) -> "ServiceArea":
        data = json.loads(text)
        polygons: list[tuple[Ring, ...]] = []
        for feature in data["features"]:
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

    def contains(self, lat: float, lon: float) -> bool:
        for exterior, *holes in self.polygons:
            if _in_ring(lon, lat, exterior) and not any(_in_ring(lon, lat, h) for h in holes):
                return True
        return False


@cache
def service_area() -> ServiceArea:
    text = (resources.files("icc_simulator") / "data" / "service_area.geojson").read_text("utf-8")
    return ServiceArea.from_geojson(text)
