"""The dispatcher's screen in Chromium with a city-sized picture: how fast it draws and updates.

`uv run python -m bench.screen [--runs 5] [--incidents 2000] [--units 1000] [--burst 500]`

The screen (services/gateway/src/icc_gateway/web) is served as it is, with Leaflet from npm,
by `SyntheticPictureServer`: a stand-in for the gateway's API that exists only for this
benchmark. It answers the few calls the screen makes (session, incident types, map,
stations) and streams one synthetic picture (2,000 open incidents, 1,000 units) as the
gateway does (`event: snapshot`, then `event: change`), so the figures are the browser's
own work: parsing, the canvas map, the queue's rows, and the unit board.

Each run opens a fresh browser context (nothing cached) in Debian's Chromium and measures,
with the marks app.js sets:
- first render: navigation start -> `icc:rendered` (every marker and queue row of the
  snapshot drawn, after the frame that painted them), and snapshot received -> rendered;
- a burst of changes (default 500: incident updates, new and closed incidents, unit moves
  and status changes) pushed at once: from the first change received until the last one is
  received, all applied (`icc:apply`), and the next frame painted; and the main-thread time
  the screen spent applying them (the sum of the `icc:apply` measures).
The figures are medians over the runs. Playwright's own browsers are never downloaded.
"""

import argparse
import asyncio
import json
import queue
import random
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Browser, async_playwright

from bench.procs import REPO_ROOT, Processes
from bench.settings import Settings
from icc_city.geojson import city_map

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
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
PAGE_TIMEOUT_MS = 120_000

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
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
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
                elif path in server.reference:
                    self._send(200, server.reference[path], "application/json")
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
                    server.push_burst(n)
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
                self._send(
                    200, target.read_bytes(), MIME.get(target.suffix, "application/octet-stream")
                )

            def _stream(self) -> None:
                q: queue.Queue[bytes | None] = queue.Queue()
                first = server.snapshot_frame()
                with server.lock:
                    server.streams.add(q)
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
                    with server.lock:
                        server.streams.discard(q)

        return Handler


# Runs in the page: triggers the burst, then waits until every change is applied and the
# next frame painted. Times are the page's own clock (performance.now).
BURST_JS = """
async (n) => {
  const stats = window.__icc.stats;
  const target = stats.applied + n;
  const arrivals = [];
  const es = window.__icc.state.stream;
  const onChange = () => arrivals.push(performance.now());
  es.addEventListener('change', onChange);
  performance.clearMeasures('icc:apply');
  fetch(`/bench/burst?n=${n}`, { method: 'POST' });
  await new Promise((resolve) => {
    const check = () => (stats.applied >= target ? resolve() : requestAnimationFrame(check));
    check();
  });
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const painted = performance.now();
  es.removeEventListener('change', onChange);
  const measures = performance.getEntriesByName('icc:apply');
  const last = measures[measures.length - 1];
  return {
    received_ms: arrivals[arrivals.length - 1] - arrivals[0],
    applied_ms: last.startTime + last.duration - arrivals[0],
    painted_ms: painted - arrivals[0],
    apply_cpu_ms: measures.reduce((s, m) => s + m.duration, 0),
    batches: measures.length,
  };
}
"""


def check_tools() -> None:
    if not CHROMIUM.exists():
        raise RuntimeError("Debian's Chromium is missing: apt-get install -y chromium")
    if not (LEAFLET_DIR / "leaflet.js").exists():
        raise RuntimeError("Leaflet is missing: scripts/ensure-tools.sh (npm ci)")


async def one_run(browser: Browser, url: str, burst: int) -> dict[str, float]:
    context = await browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        await page.wait_for_function(
            "() => performance.getEntriesByName('icc:rendered').length > 0",
            timeout=PAGE_TIMEOUT_MS,
        )
        first: dict[str, float] = await page.evaluate(
            """() => ({
                rendered_ms: performance.getEntriesByName('icc:rendered')[0].startTime,
                snapshot_ms: performance.getEntriesByName('icc:snapshot')[0].duration,
                markers: window.__icc.ui.map.incidents.size + window.__icc.ui.map.units.size,
                rows: document.querySelectorAll('#queue .qrow').length,
            })"""
        )
        # Let the first timers and the board settle, then the burst.
        await page.wait_for_timeout(1500)
        burst_figures: dict[str, float] = await page.evaluate(BURST_JS, burst)
        await page.wait_for_timeout(600)
        board_ms: float = await page.evaluate("window.__icc.ui.board.lastRenderMs || 0")
        if errors:
            raise RuntimeError(f"the screen failed: {errors[:3]}")
        return {**first, **burst_figures, "board_ms": board_ms}
    finally:
        await context.close()


async def measure(
    runs: int = 5, incidents: int = 2000, units: int = 1000, burst: int = 500
) -> dict[str, float]:
    """Medians over `runs` fresh page loads; raises when Chromium or Leaflet is missing."""
    check_tools()
    server = SyntheticPictureServer(incidents, units)
    server.start()
    samples: list[dict[str, float]] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for _ in range(runs):
                    server.reset()
                    samples.append(await one_run(browser, server.url, burst))
            finally:
                await browser.close()
    finally:
        server.stop()
    keys = samples[0].keys()
    return {k: statistics.median(s[k] for s in samples) for k in keys}


async def screen(procs: Processes, settings: Settings) -> dict[str, float]:
    """A harness for bench/suite.py: one repetition is 5 page loads (medians)."""
    del procs, settings  # nothing to start: the server and Chromium end with the harness
    figures = await measure(runs=5)
    return {
        "screen.first_render_ms": figures["rendered_ms"],
        "screen.snapshot_to_render_ms": figures["snapshot_ms"],
        "screen.burst_applied_ms": figures["applied_ms"],
        "screen.burst_painted_ms": figures["painted_ms"],
        "screen.burst_apply_cpu_ms": figures["apply_cpu_ms"],
        "screen.board_render_ms": figures["board_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    started = time.monotonic()
    figures = asyncio.run(measure(args.runs, args.incidents, args.units, args.burst))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"Dispatcher screen in Chromium: {args.incidents} open incidents, {args.units} units, "
        f"a burst of {args.burst} changes; medians of {args.runs} fresh page loads "
        f"({time.monotonic() - started:.0f} s in all)"
    )
    rows = [
        ("first render: navigation -> all markers and rows painted", figures["rendered_ms"], "ms"),
        ("  of which snapshot received -> painted", figures["snapshot_ms"], "ms"),
        ("  markers on the map", figures["markers"], ""),
        ("  rows in the queue", figures["rows"], ""),
        (f"burst of {args.burst} changes, from the first one received:", float("nan"), "-"),
        ("  last one received", figures["received_ms"], "ms"),
        ("  all applied (model, markers, rows)", figures["applied_ms"], "ms"),
        ("  all applied and painted", figures["painted_ms"], "ms"),
        ("  main-thread time applying them (sum of icc:apply)", figures["apply_cpu_ms"], "ms"),
        ("  batches (at most one per animation frame)", figures["batches"], ""),
        ("unit board re-render (after the burst)", figures["board_ms"], "ms"),
    ]
    for name, value, unit in rows:
        shown = "" if unit == "-" else f"{value:,.0f}" if not unit else f"{value:,.1f} {unit}"
        print(f"  {name:<60} {shown:>12}")


if __name__ == "__main__":
    main()
