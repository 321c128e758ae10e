"""The OSRM table adapter against a real (small, local) HTTP server."""

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from icc_dispatch.domain.eta import Eta, Trip
from icc_dispatch.domain.model import Point, UnitKind
from icc_dispatch.osrm import OsrmEtaProvider, RoutingError, parse_table
from icc_kernel.vocabulary import EtaSource

AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
INCIDENT = Point(10.7769, 106.7009)
TRIPS = [
    Trip(UnitKind.ENGINE, Point(10.7800, 106.6950)),
    Trip(UnitKind.AMBULANCE_ALS, Point(10.8000, 106.7300)),
    Trip(UnitKind.PATROL_CAR, Point(10.7501, 106.6602)),
]


@dataclass
class FakeOsrm:
    """What the server answers next, and the request paths it has seen."""

    url: str
    status: int = 200
    body: Any = field(default_factory=lambda: {"code": "Ok"})
    paths: list[str] = field(default_factory=list)
    # Answer each request with a table of its own size: a source's duration is its
    # latitude's fifth and sixth decimals (so a test can tell the sources apart).
    echo: bool = False

    def answer(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body


@pytest.fixture
def osrm() -> Iterator[FakeOsrm]:
    state: FakeOsrm

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            body = state.body
            if state.echo:
                points = unquote(urlsplit(self.path).path).rsplit("/", 1)[1].split(";")[:-1]
                lats = [float(p.split(",")[1]) for p in points]
                body = table([round(lat * 1e6) % 100 for lat in lats], [1000.0] * len(lats))
            payload = json.dumps(body).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = FakeOsrm(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def table(durations: list[float | None], distances: list[float | None]) -> dict[str, Any]:
    return {
        "code": "Ok",
        "durations": [[d] for d in durations],
        "distances": [[m] for m in distances],
        "sources": [{"hint": "", "distance": 1.2, "name": "", "location": [0, 0]}] * len(durations),
        "destinations": [{"hint": "", "distance": 0.4, "name": "", "location": [0, 0]}],
    }


async def etas(base_url: str, trips: list[Trip] = TRIPS) -> list[Eta | None]:
    provider = OsrmEtaProvider(base_url, timeout_s=2.0)
    try:
        return await provider.etas(trips, INCIDENT, AT)
    finally:
        await provider.close()


async def test_request_format_and_parsed_etas(osrm: FakeOsrm) -> None:
    osrm.answer(200, table([312.4, None, 95.6], [2480.7, None, 1000.2]))
    got = await etas(osrm.url + "/")

    assert got == [Eta(312, 2481), None, Eta(96, 1000)]
    assert len(osrm.paths) == 1
    raw = osrm.paths[0]
    parts = urlsplit(raw)
    assert unquote(parts.path) == (
        "/table/v1/driving/"
        "106.695000,10.780000;106.730000,10.800000;106.660200,10.750100;106.700900,10.776900"
    )
    # OSRM wants the separators literally, not percent-encoded.
    assert ";" in parts.path and "," in parts.path
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {
        "sources": ["0;1;2"],
        "destinations": ["3"],
        "annotations": ["duration,distance"],
    }


async def test_single_trip_and_missing_distances(osrm: FakeOsrm) -> None:
    body = table([59.5], [0.0])
    del body["distances"]
    osrm.answer(200, body)
    got = await etas(osrm.url, TRIPS[:1])
    # Round half to even, as Python does: 59.5 -> 60; no distances -> 0 m.
    assert got == [Eta(60, 0)]
    parts = urlsplit(osrm.paths[0])
    assert unquote(parts.path) == "/table/v1/driving/106.695000,10.780000;106.700900,10.776900"
    assert parse_qs(parts.query) == {
        "sources": ["0"],
        "destinations": ["1"],
        "annotations": ["duration,distance"],
    }


async def test_http_error_with_osrm_message_raises(osrm: FakeOsrm) -> None:
    osrm.answer(
        400, {"code": "InvalidQuery", "message": "Query string malformed close to position 42"}
    )
    with pytest.raises(RoutingError, match="400"):
        await etas(osrm.url)
    assert len(osrm.paths) == 1


async def test_refusal_with_http_200_raises(osrm: FakeOsrm) -> None:
    osrm.answer(200, {"code": "NoSegment", "message": "Could not find a matching segment"})
    with pytest.raises(RoutingError, match="NoSegment"):
        await etas(osrm.url)


async def test_wrong_size_table_raises(osrm: FakeOsrm) -> None:
    osrm.answer(200, table([100.0, 200.0], [1000.0, 2000.0]))  # two rows for three trips
    with pytest.raises(RoutingError, match="wrong size"):
        await etas(osrm.url)


async def test_missing_durations_raises(osrm: FakeOsrm) -> None:
    osrm.answer(200, {"code": "Ok"})
    with pytest.raises(RoutingError, match="wrong size"):
        await etas(osrm.url)


async def test_unreachable_server_raises() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port any more: the connection is refused.
    with pytest.raises(RoutingError, match="unreachable"):
        await etas(f"http://127.0.0.1:{port}")


async def test_more_trips_than_a_table_takes_go_in_several_requests(osrm: FakeOsrm) -> None:
    osrm.echo = True
    trips = [Trip(UnitKind.ENGINE, Point(10.7 + n / 1e6, 106.7)) for n in range(7)]
    provider = OsrmEtaProvider(osrm.url, max_sources=3)
    try:
        got = await provider.etas(trips, INCIDENT, AT)
    finally:
        await provider.close()
    assert got == [Eta(n, 1000) for n in range(7)]
    sources = sorted(parse_qs(urlsplit(p).query)["sources"][0] for p in osrm.paths)
    assert sources == ["0", "0;1;2", "0;1;2"]


async def test_no_trips_makes_no_request(osrm: FakeOsrm) -> None:
    assert await etas(osrm.url, []) == []
    assert osrm.paths == []


async def test_source_name(osrm: FakeOsrm) -> None:
    provider = OsrmEtaProvider(osrm.url, profile="car")
    try:
        assert provider.source is EtaSource.ROUTING_ENGINE
        url = provider.request_url(TRIPS[:1], INCIDENT)
        assert url.startswith(osrm.url + "/table/v1/car/106.695000,10.780000;")
    finally:
        await provider.close()


def test_parse_table_rejects_non_objects() -> None:
    with pytest.raises(RoutingError):
        parse_table([], 1)
    with pytest.raises(RoutingError):
        parse_table(None, 1)
