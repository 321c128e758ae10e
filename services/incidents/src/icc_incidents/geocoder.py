"""A deployment's geocoder over httpx: Nominatim's search API (`/search?format=jsonv2`).

Asked first when `ICC_GEOCODER=nominatim`; any failure (unreachable, slower than
`ICC_GEOCODER_TIMEOUT_MS`, an HTTP error, a body that is not Nominatim's) is a
`GeocoderError` and the gazetteer answers alone. Results outside the service area are
dropped. The query is sent to the deployment's own geocoder only, never logged.
"""

from typing import Any

import httpx

from icc_city.area import ServiceArea
from icc_city.geo import Point, distance_m
from icc_incidents.domain.model import Location
from icc_incidents.places import FoundPlace, GeocoderError
from icc_kernel.vocabulary import PlaceKind

USER_AGENT = "icc-incidents (command center call-taking)"
# The city's box (Côn Đảo aside), so a street name finds this city's street.
VIEWBOX = "106.35,11.50,107.60,10.30"


class NominatimGeocoder:
    def __init__(
        self,
        base_url: str,
        area: ServiceArea,
        *,
        timeout_s: float = 0.8,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._area = area
        self._client = client or httpx.AsyncClient(
            timeout=timeout_s, headers={"User-Agent": USER_AGENT}
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def search(self, query: str, near: Point | None, limit: int) -> list[FoundPlace]:
        params: dict[str, str | int] = {
            "q": query,
            "format": "jsonv2",
            "limit": limit,
            "countrycodes": "vn",
            "accept-language": "vi",
            "addressdetails": 1,
            "viewbox": VIEWBOX,
        }
        try:
            reply = await self._client.get(f"{self._base}/search", params=params)
        except httpx.HTTPError as exc:
            raise GeocoderError(f"unreachable: {type(exc).__name__}") from exc
        if reply.status_code != 200:
            raise GeocoderError(f"answered HTTP {reply.status_code}")
        try:
            body = reply.json()
        except ValueError as exc:
            raise GeocoderError("answered something that is not JSON") from exc
        return parse_search(body, near, self._area)


def parse_search(body: Any, near: Point | None, area: ServiceArea) -> list[FoundPlace]:
    """Nominatim's `jsonv2` list as places, those inside the service area only."""
    if not isinstance(body, list):
        raise GeocoderError("answered something that is not a list of places")
    out: list[FoundPlace] = []
    for item in body:
        try:
            lat, lon = float(item["lat"]), float(item["lon"])
            display = str(item.get("display_name", ""))
            place_id = str(item["place_id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GeocoderError(f"answered a place without coordinates: {exc}") from exc
        if not area.contains(lat, lon):
            continue
        address = item.get("address") if isinstance(item.get("address"), dict) else {}
        ward = str(
            address.get("suburb") or address.get("quarter") or address.get("city_district") or ""
        )
        label = str(item.get("name") or display.split(",")[0])
        out.append(
            FoundPlace(
                id=f"nominatim-{place_id}",
                label=label,
                kind=PlaceKind.ADDRESS,
                location=Location(lat, lon, display[:500], ward[:100]),
                approximate=False,
                matched=display,
                score=round(min(1.0, float(item.get("importance") or 0.5)), 4),
                distance_m=round(distance_m(near, Point(lat, lon)), 1) if near else None,
                source="geocoder",
            )
        )
    return out
