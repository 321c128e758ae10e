"""For the screen benchmark only (`bench.screen`): a synthetic city-sized picture, and a
stand-in for the gateway's API that serves the screen's files and streams that picture as
the gateway does (`event: snapshot`, then `event: change`). Not the gateway
(services/gateway/src/icc_gateway)."""

import json
import queue
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.procs import REPO_ROOT
from icc_city.geojson import city_map

WEB_DIR = REPO_ROOT / "services" / "gateway" / "src" / "icc_gateway" / "web"
LEAFLET_DIR = REPO_ROOT / "services" / "gateway" / "web" / "node_modules" / "leaflet" / "dist"
TYPES_FILE = (
    REPO_ROOT / "services" / "incidents" / "src" / "icc_incidents" / "data" / "incident_types.json"
)
MIME = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
# Ho Chi Minh City's urban core, where most calls come from.
LAT = (10.70, 10.90)
LON = (106.60, 106.80)
KINDS = {
    "POLICE": ["PATROL_CAR", "POLICE_MOTORBIKE", "TRAFFIC_MOTORBIKE"],
    "FIRE": ["ENGINE", "LADDER", "RESCUE", "WATER_TENDER"],
    "MEDICAL": ["AMBULANCE_ALS", "AMBULANCE_BLS", "MOTORBIKE_RESPONDER"],
}
OPEN_STATES = ["NEW", "DISPATCHED", "EN_ROUTE", "ON_SCENE"]
UNIT_STATUSES = ["AVAILABLE", "DISPATCHED", "EN_ROUTE", "ON_SCENE", "TRANSPORTING"]


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def incident_types() -> list[dict[str, Any]]:
    """The catalog in the API's shape (GET /incident-types)."""
    raw = json.loads(TYPES_FILE.read_text("utf-8"))["types"]
    return [
        {
            "code": t["code"],
            "label_vi": t["label_vi"],
            "label_en": t["label_en"],
            "agencies": t["agencies"],
            "priority": t["default_priority"],
            "family": t["code"].split(".")[0],
        }
        for t in raw
    ]


class SyntheticPicture:
    """A made-up but plausible picture: open incidents with assignments, units, hospitals."""

    def __init__(self, incidents: int, units: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.types = incident_types()
        self.now = datetime.now(UTC)
        self.cursor = 1_000_000
        self.serial = 0
        self.units = [self._unit(i) for i in range(units)]
        self.incidents = [self._incident() for _ in range(incidents)]
        self.hospitals = [
            {
                "id": f"HOSP-{i:02d}",
                "name_vi": f"Bệnh viện {i}",
                "name_en": f"Hospital {i}",
                "lat": self.rng.uniform(*LAT),
                "lon": self.rng.uniform(*LON),
                "diversion": self.rng.choice(["OPEN", "OPEN", "OPEN", "PARTIAL", "FULL"]),
                "beds_available": self.rng.randint(0, 40),
            }
            for i in range(30)
        ]

    def _unit(self, i: int) -> dict[str, Any]:
        agency = self.rng.choices(list(KINDS), weights=[40, 35, 25])[0]
        return {
            "id": f"U-BENCH-{i:04d}",
            "call_sign": f"{agency[:2]}-{i:04d}",
            "agency": agency,
            "kind": self.rng.choice(KINDS[agency]),
            "status": self.rng.choices(UNIT_STATUSES, weights=[60, 10, 10, 15, 5])[0],
            "lat": self.rng.uniform(*LAT),
            "lon": self.rng.uniform(*LON),
            "station": None,
            "incident": None,
            "update_time": iso(self.now),
            # Every unit has reported (the gateway sends when its position was taken).
            "position_time": iso(self.now),
        }

    def _incident(self) -> dict[str, Any]:
        rng = self.rng
        self.serial += 1
        kind = rng.choice(self.types)
        state = rng.choice(OPEN_STATES)
        created = self.now - timedelta(seconds=rng.uniform(5, 3600))
        dispatched = created + timedelta(seconds=rng.uniform(10, 200)) if state != "NEW" else None
        on_scene = (
            dispatched + timedelta(seconds=rng.uniform(120, 900))
            if dispatched and state == "ON_SCENE"
            else None
        )
        assignments = []
        if state != "NEW":
            for unit in rng.sample(self.units, rng.randint(1, 4)):
                assignments.append(
                    {
                        "id": f"A-{self.serial}-{unit['id']}",
                        "unit": unit["id"],
                        "call_sign": unit["call_sign"],
                        "agency": unit["agency"],
                        "kind": unit["kind"],
                        "state": rng.choice(["ASSIGNED", "ACKNOWLEDGED"]),
                        "assign_time": iso(dispatched or created),
                    }
                )
        return {
            "id": f"bench-{self.serial:06d}",
            "type_code": kind["code"],
            "priority": kind["priority"],
            "state": state,
            "lat": rng.uniform(*LAT),
            "lon": rng.uniform(*LON),
            "address": f"{rng.randint(1, 400)} Đường số {rng.randint(1, 60)}",
            "ward": rng.choice(["Bến Thành", "Sài Gòn", "Tân Định", "Chợ Lớn", "Gia Định"]),
            "agencies": kind["agencies"],
            "description": "",
            "exercise": False,
            "create_time": iso(created),
            "first_dispatch_time": iso(dispatched) if dispatched else None,
            "first_on_scene_time": iso(on_scene) if on_scene else None,
            "close_time": None,
            "etag": "1",
            "assignments": assignments,
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "incidents": self.incidents,
            "units": self.units,
            "hospitals": self.hospitals,
        }

    def burst(self, n: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """`n` changes as a busy minute brings them: 30% incident updates, 10% new incidents,
        10% closed ones, 35% unit moves, 15% unit status changes."""
        rng = self.rng
        for _ in range(n):
            self.cursor += 1
            roll = rng.random()
            if roll < 0.30 and self.incidents:
                i = rng.randrange(len(self.incidents))
                inc = dict(self.incidents[i])
                inc["state"] = rng.choice(OPEN_STATES)
                inc["priority"] = rng.choice([inc["priority"], rng.randint(1, 4)])
                inc["etag"] = str(int(inc["etag"]) + 1)
                self.incidents[i] = inc
                change = {"kind": "incident", "op": "upsert", "item": inc}
            elif roll < 0.40:
                inc = self._incident()
                self.incidents.append(inc)
                change = {"kind": "incident", "op": "upsert", "item": inc}
            elif roll < 0.50 and self.incidents:
                gone = self.incidents.pop(rng.randrange(len(self.incidents)))
                change = {"kind": "incident", "op": "remove", "item": {"id": gone["id"]}}
            else:
                i = rng.randrange(len(self.units))
                unit = dict(self.units[i])
                if roll < 0.85:
                    unit["lat"] += rng.uniform(-0.002, 0.002)
                    unit["lon"] += rng.uniform(-0.002, 0.002)
                    unit["position_time"] = iso(datetime.now(UTC))
                else:
                    unit["status"] = rng.choice(UNIT_STATUSES)
                self.units[i] = unit
                change = {"kind": "unit", "op": "upsert", "item": unit}
            yield self.cursor, change


def frame(cursor: int, event: str, data: object) -> bytes:
    """One Server-Sent Event, as the gateway frames it."""
    return (
        f"id: {cursor}\nevent: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
    )


class SyntheticPictureServer:
    """For this benchmark only: the screen's static files and a stand-in for the gateway's
    API, streaming a synthetic picture. Not the gateway (services/gateway/src/icc_gateway)."""

    def __init__(self, incidents: int, units: int) -> None:
        self.size = (incidents, units)
        self.picture = SyntheticPicture(incidents, units)
        self.streams: set[queue.Queue[bytes | None]] = set()
        self.lock = threading.Lock()
        self.reference = {
            "/api/v1/session": json.dumps(
                {
                    "user": {
                        "username": "bench",
                        "display_name": "Bench",
                        "role": "dispatcher",
                        "agency": "COMMAND_CENTER",
                    }
                }
            ).encode(),
            "/api/v1/incident-types": json.dumps({"types": self.picture.types}).encode(),
            "/api/v1/map": json.dumps(city_map()).encode(),
            "/api/v1/stations": b'{"stations": []}',
        }
        self.httpd = _Httpd(self)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def start(self) -> None:
        self.thread.start()

    def reset(self) -> None:
        """The same picture again (each run starts from the same 2,000 incidents)."""
        with self.lock:
            self.picture = SyntheticPicture(self.size[0], self.size[1])

    def stop(self) -> None:
        with self.lock:
            for q in self.streams:
                q.put(None)
        self.httpd.shutdown()
        self.httpd.server_close()

    def snapshot_frame(self) -> bytes:
        with self.lock:
            return frame(self.picture.cursor, "snapshot", self.picture.snapshot())

    def push_burst(self, n: int) -> None:
        with self.lock:
            frames = b"".join(frame(c, "change", ch) for c, ch in self.picture.burst(n))
            for q in self.streams:
                q.put(frames)


class _Httpd(ThreadingHTTPServer):
    def __init__(self, owner: SyntheticPictureServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner


class _Handler(BaseHTTPRequestHandler):
    """The stand-in's HTTP requests (`server`: the picture server's `_Httpd`)."""

    server: "_Httpd"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/api/v1/picture/stream":
            self._stream()
        elif path in self.server.owner.reference:
            self._send(200, self.server.owner.reference[path], "application/json")
        elif path.startswith("/api/"):
            self._send(
                404,
                b'{"error": {"code": "not_found", "message": "bench"}}',
                "application/json",
            )
        else:
            self._file(path)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/bench/burst":
            n = int(parse_qs(url.query).get("n", ["500"])[0])
            self.server.owner.push_burst(n)
            self._send(204, b"", "text/plain")
        else:
            self._send(404, b"{}", "application/json")

    def _file(self, path: str) -> None:
        if path.startswith("/vendor/leaflet/"):
            base, rel = LEAFLET_DIR, path.removeprefix("/vendor/leaflet/")
        else:
            base, rel = WEB_DIR, path.lstrip("/") or "index.html"
        target = (base / rel).resolve()
        if not target.is_relative_to(base.resolve()) or not target.is_file():
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, target.read_bytes(), MIME.get(target.suffix, "application/octet-stream"))

    def _stream(self) -> None:
        q: queue.Queue[bytes | None] = queue.Queue()
        first = self.server.owner.snapshot_frame()
        with self.server.owner.lock:
            self.server.owner.streams.add(q)
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(first)
            self.wfile.flush()
            while True:
                try:
                    frames = q.get(timeout=15)
                except queue.Empty:
                    frames = b": keep-alive\n\n"
                if frames is None:
                    return
                self.wfile.write(frames)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            with self.server.owner.lock:
                self.server.owner.streams.discard(q)
