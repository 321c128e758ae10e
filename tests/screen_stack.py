"""The city and the gateway serving the dispatcher's screen, and the browser that shows it.

For the tests that drive the screen in a real browser (Debian's Chromium through
Playwright, never a browser Playwright downloads) or call the gateway's HTTP API as a
screen would: the three services in-process on real gRPC and a real nats-server, the
gateway on a free port with its own SQLite file and the demo accounts.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    Position,
    async_playwright,
    expect,
)

from icc_bus import BusConfig
from icc_gateway import main as gateway_main
from icc_gateway.config import Config
from icc_incidents.settings import GeocoderSettings
from icc_testing import NatsServer, Pki
from icc_tracesink.query import QueryServer, QueryTls
from icc_tracesink.store import SpanStore
from tests.conftest import City, start_city, stop_city

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
ROOT = Path(__file__).resolve().parents[1]
LEAFLET = ROOT / "services" / "gateway" / "web" / "node_modules" / "leaflet" / "dist"
PASSWORD = "icc-demo"
# Generous for a loaded 2-CPU machine; Playwright waits only as long as needed.
WAIT_MS = 20_000

# For a module whose tests need the browser.
NEEDS_BROWSER = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's Chromium is not installed (/usr/bin/chromium): apt-get install -y chromium",
    ),
    pytest.mark.skipif(
        not (LEAFLET / "leaflet.js").exists(),
        reason="Leaflet is not installed: run scripts/ensure-tools.sh (npm ci in services/gateway/web)",
    ),
]


@dataclass
class Stack:
    city: City
    config: Config
    spans: Path  # the trace sink's file
    gateway: gateway_main.Running | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def start_gateway(self) -> None:
        """The gateway, on the same port as before when it ran already."""
        config = replace(self.config, address=f"127.0.0.1:{self.port}")
        self.gateway = await gateway_main.start(config)
        self.port = self.gateway.port
        await asyncio.wait_for(self.gateway.loaded.wait(), timeout=30)

    async def stop_gateway(self) -> None:
        if self.gateway is not None:
            gateway, self.gateway = self.gateway, None
            await gateway.stop()


@asynccontextmanager
async def running_stack(
    nats_server: NatsServer,
    tmp_path: Path,
    pki: Pki,
    before_gateway: Callable[[City], Awaitable[None]] | None = None,
    geocoder: GeocoderSettings | None = None,
    ack_within: timedelta = timedelta(hours=1),
) -> AsyncIterator[Stack]:
    """nats-server, incidents, resources and dispatch, a trace sink's query endpoint (over
    `Stack.spans`, empty until a test writes spans there), and the gateway serving the
    screen; `before_gateway` runs once the services are up and before the gateway reads
    its picture; `geocoder`, where the incidents service looks for places first;
    `ack_within`, how long dispatch waits for a unit's acknowledgement before escalating."""
    city, services, channels = await start_city(
        nats_server, tmp_path, pki, geocoder=geocoder, ack_within=ack_within
    )
    spans = tmp_path / "traces.db"
    SpanStore.open(spans).close()
    own = pki.tls("tracesink")
    sink = QueryServer("127.0.0.1:0", spans, QueryTls(own.ca, own.cert, own.key))
    sink.start()
    if before_gateway is not None:
        await before_gateway(city)
    running = city.running
    config = Config(
        address="127.0.0.1:0",
        incidents_target=f"127.0.0.1:{running['incidents'].port}",  # type: ignore[attr-defined]
        resources_target=city.resources_target,
        dispatch_target=f"127.0.0.1:{running['dispatch'].port}",  # type: ignore[attr-defined]
        bus=BusConfig(url=nats_server.url),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        leaflet_dir=LEAFLET,
        tls=pki.tls("gateway"),
        tracesink_query_url=f"https://127.0.0.1:{sink.port}",
    )
    stack = Stack(city, config, spans)
    try:
        await stack.start_gateway()
        yield stack
    finally:
        await stack.stop_gateway()
        sink.stop()
        await stop_city(services, channels)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: Browser, errors: list[str]) -> Page:
    context = await browser.new_context(viewport={"width": 1600, "height": 900}, locale="vi-VN")
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda message: _policy_violation(message, errors))
    return page


def _policy_violation(message: ConsoleMessage, errors: list[str]) -> None:
    """Chromium reports what the Content-Security-Policy (Trusted Types included) stopped
    on the console: on this screen, each is a bug (HTML or a style where none may be)."""
    if "Content Security Policy" in message.text or "TrustedHTML" in message.text:
        errors.append(f"policy violation: {message.text}")


async def log_in(page: Page, url: str, username: str) -> None:
    await page.goto(url)
    await page.get_by_label("Tên đăng nhập").fill(username)
    await page.get_by_label("Mật khẩu").fill(PASSWORD)
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.locator("#conn")).to_have_text("Trực tuyến", timeout=WAIT_MS)
    await page.wait_for_function("window.__icc.stats.snapshots > 0", timeout=WAIT_MS)


async def map_point(page: Page, lat: float, lon: float) -> Position:
    """Where (lat, lon) is on the map's container, in pixels."""
    point: Position = await page.evaluate(
        "([lat, lon]) => { const p = window.__icc.ui.map.map.latLngToContainerPoint([lat, lon]);"
        " return {x: p.x, y: p.y}; }",
        [lat, lon],
    )
    return point


async def zoom_to(page: Page, lat: float, lon: float, zoom: float) -> None:
    await page.evaluate(
        "([lat, lon, zoom]) => { window.__icc.ui.map.map.setView([lat, lon], zoom, {animate: false}); }",
        [lat, lon, zoom],
    )
