"""The Nominatim adapter against a real (small, local) HTTP server speaking Nominatim's
`jsonv2`, and the gazetteer answering whenever the geocoder cannot."""

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from icc_city.area import service_area
from icc_city.gazetteer import gazetteer
from icc_incidents.domain.model import Location
from icc_incidents.geocoder import NominatimGeocoder
from icc_incidents.places import PlaceSearch
from icc_incidents.settings import geocoder_from_env
from icc_kernel.vocabulary import PlaceKind

CENTRE = Location(10.7769, 106.7009)
# What Nominatim answers for "135 Nam Kỳ Khởi Nghĩa" (trimmed), and a place in Hà Nội.
NAM_KY = {
    "place_id": 215434891,
    "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
    "osm_type": "node",
    "osm_id": 5678,
    "lat": "10.7771",
    "lon": "106.6959",
    "category": "place",
    "type": "house",
    "place_rank": 30,
    "importance": 0.00001,
    "addresstype": "place",
    "name": "",
    "display_name": "135, Nam Kỳ Khởi Nghĩa, Phường Bến Thành, Thành phố Hồ Chí Minh, Việt Nam",
    "address": {
        "house_number": "135",
        "road": "Nam Kỳ Khởi Nghĩa",
        "suburb": "Phường Bến Thành",
        "city": "Thành phố Hồ Chí Minh",
        "country": "Việt Nam",
        "country_code": "vn",
    },
    "boundingbox": ["10.7770", "10.7772", "106.6958", "106.6960"],
}
HANOI = {**NAM_KY, "place_id": 1, "lat": "21.0285", "lon": "105.8542"}


@dataclass
class FakeNominatim:
    url: str
    status: int = 200
    body: Any = field(default_factory=list)
    delay_s: float = 0.0
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)


@pytest.fixture
def nominatim() -> Iterator[FakeNominatim]:
    state: FakeNominatim

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            split = urlsplit(self.path)
            assert split.path == "/search"
            state.queries.append(parse_qs(split.query))
            state.agents.append(self.headers.get("User-Agent", ""))
            time.sleep(state.delay_s)
            raw = state.body if isinstance(state.body, bytes) else json.dumps(state.body).encode()
            # The client may have given up (the timeout case).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(state.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = FakeNominatim(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def search(url: str, timeout_s: float = 0.8) -> PlaceSearch:
    return PlaceSearch(gazetteer(), NominatimGeocoder(url, service_area(), timeout_s=timeout_s))


async def test_the_geocoder_answers_first_and_the_gazetteer_after(
    nominatim: FakeNominatim,
) -> None:
    nominatim.body = [NAM_KY, HANOI]
    places = search(nominatim.url)
    try:
        found = await places.search("135 Nam Kỳ Khởi Nghĩa", CENTRE, 5)
    finally:
        assert places.geocoder is not None
        await places.geocoder.close()
    first = found[0]
    assert first.source == "geocoder"
    assert first.kind == PlaceKind.ADDRESS
    assert (first.location.lat, first.location.lon) == (10.7771, 106.6959)
    assert first.location.ward == "Phường Bến Thành"
    assert first.id == "nominatim-215434891"
    assert not first.approximate
    # Hà Nội is outside the service area: dropped. The gazetteer fills the rest.
    assert [p.source for p in found[1:]] == ["gazetteer"] * 4
    asked = nominatim.queries[0]
    assert asked["q"] == ["135 Nam Kỳ Khởi Nghĩa"]
    assert asked["format"] == ["jsonv2"]
    assert asked["countrycodes"] == ["vn"]
    assert nominatim.agents[0].startswith("icc-incidents")


@pytest.mark.parametrize(
    ("status", "body", "delay_s"),
    [
        (500, {"error": "down"}, 0.0),
        (200, b"<html>not json</html>", 0.0),
        (200, {"not": "a list"}, 0.0),
        (200, [{"display_name": "no coordinates"}], 0.0),
        (200, [NAM_KY], 1.0),  # slower than the timeout
    ],
)
async def test_the_gazetteer_answers_when_the_geocoder_cannot(
    nominatim: FakeNominatim, status: int, body: Any, delay_s: float
) -> None:
    nominatim.status, nominatim.body, nominatim.delay_s = status, body, delay_s
    places = search(nominatim.url, timeout_s=0.3)
    try:
        found = await places.search("cho ben thanh", CENTRE, 3)
    finally:
        assert places.geocoder is not None
        await places.geocoder.close()
    assert found[0].label == "Chợ Bến Thành"
    assert {p.source for p in found} == {"gazetteer"}


async def test_an_unreachable_geocoder_leaves_the_gazetteer() -> None:
    places = search("http://127.0.0.1:9", timeout_s=0.3)
    try:
        found = await places.search("Q1", CENTRE, 1)
    finally:
        assert places.geocoder is not None
        await places.geocoder.close()
    assert found[0].kind == PlaceKind.FORMER_DISTRICT


def test_settings_turn_the_geocoder_on() -> None:
    assert geocoder_from_env({}).kind == ""
    on = geocoder_from_env(
        {
            "ICC_GEOCODER": "nominatim",
            "ICC_GEOCODER_URL": "http://geo:8080",
            "ICC_GEOCODER_TIMEOUT_MS": "500",
        }
    )
    assert (on.kind, on.url, on.timeout_s) == ("nominatim", "http://geo:8080", 0.5)
    with pytest.raises(ValueError, match="ICC_GEOCODER_URL"):
        geocoder_from_env({"ICC_GEOCODER": "nominatim"})
    with pytest.raises(ValueError, match="ICC_GEOCODER"):
        geocoder_from_env({"ICC_GEOCODER": "google"})
