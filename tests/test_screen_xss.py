"""Hostile text on the dispatcher's screen: shown as text, never run.

Incidents (made through gRPC, as any caller may), units, stations and hospitals (their
reference rows rewritten in the resources service's database), an incident's spans in
the trace sink, a premise caution and the places a deployment's geocoder answers (a local
HTTP server speaking Nominatim's API) carry script payloads in every text field they have: `<img onerror>`,
`<script>`, `javascript:` URLs, `"><svg onload>`, `<details ontoggle>`, some calling
`alert`. A supervisor (who sees everything, the timeline too) hovers every hostile marker
on the map, clicks it, opens each tab of each incident and a unit's popup, in both
languages; then takes a call at the hostile fire, its place found through the hostile
geocoder, where the call form lists the places, the fire as a possible duplicate and the
caution. Nothing may run: no dialog, no `window.__xss` (the marker every payload sets),
no Content-Security-Policy violation (the screen would have inserted HTML the policy then
stopped), no page error; and the tooltips and popups show the payloads as the text they are.
"""

import asyncio
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp
from playwright.async_api import Browser, Dialog, Locator, Page, expect

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc_incidents.settings import GeocoderSettings
from icc_testing import NatsServer, Pki
from icc_tracesink.model import Span
from icc_tracesink.store import SpanStore
from tests.conftest import City
from tests.screen_stack import (
    NEEDS_BROWSER,
    WAIT_MS,
    Stack,
    log_in,
    map_point,
    new_page,
    running_stack,
    zoom_to,
)

pytestmark = [*NEEDS_BROWSER, pytest.mark.timeout(150)]

# Each records itself in `window.__xss` (or opens a dialog) if the screen ever lets it run.
RAN = "(window.__xss=window.__xss||[]).push"
PAYLOADS = (
    f"<img src=x onerror=\"{RAN}('img')\">",
    f"<script>{RAN}('script')</script>",
    f"javascript:{RAN}('url')",
    f'"><svg onload="{RAN}(\'svg\')">',
    f"<details open ontoggle=\"{RAN}('details')\">",
    "<img src=y onerror=alert(document.domain)>",
    f"<a href=\"javascript:{RAN}('link')\">open</a>",
)
# Fields of 32 or 35 characters at most (a call sign, a caller's language).
SHORT = ("<img src=x onerror=__xss=[1]>", "<svg onload=alert(1)>")
# Where the hostile things stand, each apart from the rest of the city.
INCIDENT_AT = ((10.7915, 106.6620), (10.7402, 106.7330))
UNIT_AT = ((10.8265, 106.6255), (10.7150, 106.6410))
HOSPITAL_AT = ((10.8590, 106.7840), (10.6935, 106.6960))


def payload(n: int) -> str:
    return PAYLOADS[n % len(PAYLOADS)]


@dataclass
class Hostile:
    incidents: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)  # ids of the units placed apart
    call_signs: dict[str, str] = field(default_factory=dict)
    hospitals: list[tuple[str, str, str]] = field(default_factory=list)  # id, vi, en


def rewrite_reference_data(db: Path, hostile: Hostile) -> None:
    """Every unit's call sign, every station's and hospital's names hold a payload; two
    hospitals stand apart, so that a hover finds them and not a unit at their door."""
    with sqlite3.connect(db, timeout=10) as conn:
        units = [r[0] for r in conn.execute("SELECT id FROM units ORDER BY id")]
        for n, unit in enumerate(units):
            sign = f"{SHORT[n % len(SHORT)]}{n}"
            hostile.call_signs[unit] = sign
            # A new version: the service reads the row again rather than its copy.
            conn.execute(
                "UPDATE units SET call_sign = ?, version = version + 1 WHERE id = ?",
                (sign, unit),
            )
        for n, (station,) in enumerate(conn.execute("SELECT id FROM stations").fetchall()):
            conn.execute(
                "UPDATE stations SET name_vi = ?, name_en = ?, ward = ? WHERE id = ?",
                (payload(n), payload(n + 1), payload(n + 2), station),
            )
        rows = conn.execute("SELECT id FROM hospitals ORDER BY id").fetchall()
        for n, (hospital,) in enumerate(rows):
            vi, en = f"{payload(n)} BV{n}", f"{payload(n + 3)} H{n}"
            conn.execute(
                "UPDATE hospitals SET name_vi = ?, name_en = ?, ward = ?, version = version + 1"
                " WHERE id = ?",
                (vi, en, payload(n + 4), hospital),
            )
            if n < len(HOSPITAL_AT):
                lat, lon = HOSPITAL_AT[n]
                conn.execute(
                    "UPDATE hospitals SET lat = ?, lon = ? WHERE id = ?", (lat, lon, hospital)
                )
                hostile.hospitals.append((hospital, vi, en))
        hostile.units = units[: len(UNIT_AT)]


async def place_units(city: City, hostile: Hostile) -> None:
    taken = Timestamp()
    taken.FromDatetime(datetime.now(UTC))
    for unit, (lat, lon) in zip(hostile.units, UNIT_AT, strict=True):
        report = resource_events.UnitPositionReported(
            unit=f"units/{unit}",
            position=resource_pb2.Position(lat=lat, lon=lon, report_time=taken),
        )
        reply = await city.resources_as("simulator").ReportPosition(
            resource_pb.ReportPositionRequest(report=report), timeout=5
        )
        assert reply.accepted


async def create_incidents(city: City, hostile: Hostile) -> None:
    """A fire (dispatched at once, P1) and a fallen tree (waiting for a dispatcher, so its
    recommendation lists units), every text field hostile, with hostile notes."""
    for n, (code, (lat, lon)) in enumerate(
        zip(("FIRE.STRUCTURE", "FLOOD.STREET_FLOODING"), INCIDENT_AT, strict=True)
    ):
        incident = incident_pb2.Incident(
            type_code=code,
            location=common_pb2.Location(lat=lat, lon=lon, address=payload(n), ward=payload(n + 1)),
            description=" ".join(PAYLOADS),
            caller=incident_pb2.Caller(name=payload(n + 2), phone="0909123456", language=SHORT[n]),
        )
        request = incident_pb.CreateIncidentRequest(request_id=f"xss-{n}", incident=incident)
        created = (await city.incidents.CreateIncident(request, timeout=5)).incident
        hostile.incidents.append(created.name.rpartition("/")[2])
        for text in (payload(n + 3), payload(n + 4)):
            note = incident_pb.AddNoteRequest(parent=created.name, text=text)
            await city.incidents.AddNote(note, timeout=5)


def write_spans(db: Path, incident_id: str) -> None:
    """The incident's timeline, as a hostile OTLP sender could have written it."""
    store = SpanStore.open(db)
    now = datetime.now(UTC).timestamp() * 1e9
    try:
        store.insert(
            [
                Span(
                    trace_id=f"{n + 1:032x}",
                    span_id=f"{n + 1:016x}",
                    parent_span_id=None,
                    service=SHORT[n % len(SHORT)],
                    name=payload(n),
                    kind="SERVER",
                    start_ns=int(now + n * 1e6),
                    end_ns=int(now + n * 1e6 + 5e5),
                    status_code="ERROR",
                    status_message=payload(n + 1),
                    attributes={"icc.incident.id": incident_id, "rpc.method": payload(n + 2)},
                )
                for n in range(3)
            ]
        )
    finally:
        store.close()


async def create_caution(city: City) -> None:
    """A caution at the hostile fire, its text, address and ward hostile."""
    lat, lon = INCIDENT_AT[0]
    caution = incident_pb2.Caution(
        kind=incident_pb2.CAUTION_KIND_WEAPONS,
        text=CAUTION,
        location=common_pb2.Location(lat=lat, lon=lon, address=payload(5), ward=payload(6)),
        radius_m=50,
    )
    request = incident_pb.CreateCautionRequest(request_id="xss-caution", caution=caution)
    await city.incidents.CreateCaution(request, timeout=5)


# The caution's text, and what the hostile geocoder calls its places.
CAUTION = f"{payload(4)} {payload(1)}"
PLACE_NAMES = (payload(0), payload(2))


def hostile_places() -> list[dict[str, object]]:
    """Nominatim's `jsonv2` answer, every name in it hostile, at the hostile fire."""
    lat, lon = INCIDENT_AT[0]
    return [
        {
            "place_id": 900 + n,
            "lat": str(lat + n * 0.0002),
            "lon": str(lon),
            "name": name,
            "display_name": f"{name}, {payload(n + 3)}, Thành phố Hồ Chí Minh",
            "importance": 0.9,
            "address": {"road": payload(n + 4), "suburb": payload(n + 5)},
        }
        for n, name in enumerate(PLACE_NAMES)
    ]


@contextmanager
def hostile_geocoder() -> Iterator[str]:
    """A real HTTP server answering Nominatim's /search with hostile places; its URL."""
    body = json.dumps(hostile_places()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest_asyncio.fixture
async def stack(
    nats_server: NatsServer, tmp_path: Path, pki: Pki
) -> AsyncIterator[tuple[Stack, Hostile]]:
    hostile = Hostile()

    async def plant(city: City) -> None:
        rewrite_reference_data(tmp_path / "resources.db", hostile)
        await place_units(city, hostile)
        await create_incidents(city, hostile)
        await create_caution(city)

    with hostile_geocoder() as url:
        # A generous timeout: a loaded machine must not make the search skip it.
        geocoder = GeocoderSettings("nominatim", url, timeout_s=5.0)
        async with running_stack(
            nats_server, tmp_path, pki, before_gateway=plant, geocoder=geocoder
        ) as running:
            write_spans(running.spans, hostile.incidents[0])
            yield running, hostile


@dataclass
class Watch:
    """What the page must never do."""

    dialogs: list[str] = field(default_factory=list)
    # Page errors and what the Content-Security-Policy stopped (screen_stack.new_page).
    errors: list[str] = field(default_factory=list)
    # Tooltips and popups that did not show their text as text (it became markup).
    not_text: list[str] = field(default_factory=list)
    pending: set["asyncio.Future[None]"] = field(default_factory=set)

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        self.pending.add(asyncio.ensure_future(dialog.dismiss()))


async def watched_page(browser: Browser, watch: Watch) -> Page:
    page = await new_page(browser, watch.errors)
    page.on("dialog", watch.on_dialog)
    await page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => {"
        " (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`); });"
    )
    return page


async def shown_as_text(watch: Watch, element: Locator, text: str) -> None:
    try:
        await expect(element).to_be_visible(timeout=5000)
    except AssertionError:
        watch.not_text.append(f"{text!r} never shown")
        return
    shown = await element.text_content() or ""
    if text not in shown:
        watch.not_text.append(f"{text!r} shown as {shown!r}")


async def hover(page: Page, watch: Watch, lat: float, lon: float, text: str) -> None:
    """Hovers the marker at (lat, lon): its tooltip must show `text`, as text."""
    await zoom_to(page, lat, lon, 18)
    await page.mouse.move(1, 1)
    await page.locator("#map").hover(position=await map_point(page, lat, lon))
    # The newest: the last one may still be fading out.
    await shown_as_text(watch, page.locator(".leaflet-tooltip").last, text)


async def open_every_tab(page: Page, incident_id: str, shows: str) -> None:
    detail = page.locator("#detail-panel")
    await expect(detail.locator("#detail-title")).to_be_visible()
    for tab in ("Diễn biến", "Ghi chú", "Dòng thời gian", "Điều động"):
        await detail.get_by_role("tab", name=tab).click()
        await expect(detail.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        await page.wait_for_timeout(300)
    await expect(detail).to_contain_text(shows)


async def take_a_call_at_the_fire(page: Page, watch: Watch, hostile: Hostile) -> None:
    """A call at the hostile fire: its place from the hostile geocoder, the fire offered as
    a duplicate (its hostile address), the hostile caution; in both languages."""
    await page.get_by_role("button", name="Cuộc gọi mới").click()
    box = page.get_by_role("combobox", name="Loại sự vụ")
    await box.fill("chay nha")
    await box.press("Enter")
    place = page.get_by_role("combobox", name="Địa điểm")
    await place.fill("nha so 5")
    options = page.locator("#cf-place-list [role=option]")
    for n, name in enumerate(PLACE_NAMES):
        await shown_as_text(watch, options.nth(n).locator(".opt-label"), name)
    await place.press("Enter")
    await expect(place).to_have_value(PLACE_NAMES[0])
    await shown_as_text(watch, page.locator("#cf-place-chosen"), PLACE_NAMES[0])
    offered = page.locator(f'#cf-duplicates li[data-incident="{hostile.incidents[0]}"]')
    await shown_as_text(watch, offered.locator(".where"), payload(0))
    await shown_as_text(watch, page.locator("#cf-premises .caution-text"), CAUTION)
    await shown_as_text(watch, page.locator("#cf-premises .caution-list"), payload(5))
    await page.get_by_role("button", name="Chuyển sang tiếng Anh").click()
    await shown_as_text(watch, page.locator("#cf-premises .caution-text"), CAUTION)
    await shown_as_text(watch, offered.locator(".where"), payload(0))
    await page.get_by_role("button", name="Switch to Vietnamese").click()


async def test_hostile_text_is_shown_and_never_run(
    stack: tuple[Stack, Hostile], browser: Browser
) -> None:
    running, hostile = stack
    watch = Watch()
    page = await watched_page(browser, watch)
    await log_in(page, running.url, "supervisor")
    for incident_id in hostile.incidents:
        await page.wait_for_function(
            "id => window.__icc.ui.map.incidents.has(id)", arg=incident_id, timeout=WAIT_MS
        )

    # Each incident: its tooltip, then a click opens it, and every tab of it.
    for n, (incident_id, (lat, lon)) in enumerate(zip(hostile.incidents, INCIDENT_AT, strict=True)):
        await hover(page, watch, lat, lon, payload(n))
        await page.locator("#map").click(position=await map_point(page, lat, lon))
        await open_every_tab(page, incident_id, payload(n))
    # The fire's timeline: the hostile spans under their step's heading, as text.
    detail = page.locator("#detail-panel")
    await page.locator(f'#queue .qrow[data-id="{hostile.incidents[0]}"]').click()
    await detail.get_by_role("tab", name="Dòng thời gian").click()
    await expect(detail.locator(".wf-step")).to_contain_text("Việc khác")
    await shown_as_text(watch, detail.locator(".waterfall"), payload(0))
    # The fire's units arrived (P1 is dispatched at once): their call signs in its detail.
    await detail.get_by_role("tab", name="Điều động").click()
    await expect(detail.locator("table.assignments tbody tr").first).to_be_visible()

    # Units placed apart: the tooltip, then the popup.
    for unit, (lat, lon) in zip(hostile.units, UNIT_AT, strict=True):
        await hover(page, watch, lat, lon, hostile.call_signs[unit])
        await page.locator("#map").click(position=await map_point(page, lat, lon))
        await shown_as_text(watch, page.locator(".leaflet-popup").last, hostile.call_signs[unit])
        await page.evaluate("() => { window.__icc.ui.map.map.closePopup(); }")

    # Hospitals, by their Vietnamese and then their English names.
    for (_, vi, _), at in zip(hostile.hospitals, HOSPITAL_AT, strict=True):
        await hover(page, watch, *at, vi)
    await page.get_by_role("button", name="Chuyển sang tiếng Anh").click()
    for (_, _, en), at in zip(hostile.hospitals, HOSPITAL_AT, strict=True):
        await hover(page, watch, *at, en)
    # The queue and the board in English too.
    for incident_id in hostile.incidents:
        await page.locator(f'#queue .qrow[data-id="{incident_id}"]').click()
        await page.wait_for_timeout(300)
    await page.get_by_role("button", name="Switch to Vietnamese").click()

    await take_a_call_at_the_fire(page, watch, hostile)

    await page.wait_for_timeout(500)
    ran = await page.evaluate("window.__xss ?? []")
    violations = await page.evaluate("window.__csp ?? []")
    problems = [
        *(f"a payload ran: {r}" for r in ran),
        *(f"a payload opened a dialog: {d}" for d in watch.dialogs),
        *(f"the policy stopped inserted HTML: {v}" for v in violations),
        *(f"markup instead of text: {m}" for m in watch.not_text),
        *watch.errors,
    ]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
