"""Public warnings on the screen, in a real browser (tests/screen_stack.py: Debian's Chromium
through Playwright, the real gateway, services and nats-server).

A supervisor issues a warning whose area is a circle placed by a click on the map, finds it
in the public Atom feed and its CAP message, updates it and cancels it, all from the panel;
a drill is marked as one and stays out of the feed; a ward that is not the city's is
refused with the reason under the field, in Vietnamese; no English shows in the panel in
Vietnamese mode. A dispatcher has no such panel. Hostile text in a warning is shown as the
text it is, never run.
"""

import asyncio
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Dialog, Page, expect

from icc_testing import NatsServer, Pki
from tests.screen_stack import (
    NEEDS_BROWSER,
    WAIT_MS,
    Stack,
    log_in,
    map_point,
    new_page,
    running_stack,
)
from tests.test_screen_language import VISIBLE_TEXT, english_in
from tests.test_screen_xss import PAYLOADS

pytestmark = [*NEEDS_BROWSER, pytest.mark.timeout(150)]

ATOM = "{http://www.w3.org/2005/Atom}"
CAP = "{urn:oasis:names:tc:emergency:cap:1.2}"
# Near Thủ Đức, clear of the central markers.
CENTRE = (10.8450, 106.7700)


@pytest_asyncio.fixture
async def stack(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[Stack]:
    async with running_stack(nats_server, tmp_path, pki) as running:
        yield running


async def fetch_text(page: Page, path: str) -> str:
    """A public document as a poller reads it, never from the browser's cache."""
    text: str = await page.evaluate(
        """async (path) => {
            const reply = await fetch(path, {cache: 'no-store', credentials: 'omit'});
            if (!reply.ok) throw new Error(path + ': ' + reply.status);
            return reply.text();
        }""",
        path,
    )
    return text


async def feed_titles(page: Page) -> list[str]:
    feed = ET.fromstring(await fetch_text(page, "/public/warnings.atom"))
    return [e.findtext(f"{ATOM}title") or "" for e in feed.iter(f"{ATOM}entry")]


async def listed(page: Page) -> list[dict[str, Any]]:
    warnings: list[dict[str, Any]] = await page.evaluate(
        "async () => (await (await fetch('/api/v1/warnings')).json()).warnings"
    )
    return warnings


async def open_panel(page: Page) -> None:
    await page.locator("#warnings-open").click()
    await expect(page.locator("#warnings-panel")).to_be_visible()
    await expect(page.locator("#warnings-panel h3").first).to_have_text("Cảnh báo hiện hành")


async def fill_texts(page: Page, vi: str, en: str) -> None:
    panel = page.locator("#warnings-panel")
    await panel.locator("#wf-vi-event").fill("Ngập lụt")
    await panel.locator("#wf-vi-headline").fill(vi)
    await panel.locator("#wf-vi-description").fill("Triều cường kết hợp mưa lớn.")
    await panel.locator("#wf-vi-instruction").fill("Tránh các tuyến đường ven sông.")
    await panel.locator("#wf-en-event").fill("Flood")
    await panel.locator("#wf-en-headline").fill(en)
    await panel.locator("#wf-en-description").fill("High tide with heavy rain.")
    await panel.locator("#wf-en-instruction").fill("Avoid the riverside roads.")
    await panel.locator("#wf-area-vi").fill("Ven sông Sài Gòn")
    await panel.locator("#wf-area-en").fill("Along the Saigon river")


async def test_supervisor_issues_updates_and_cancels_a_warning(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, stack.url, "supervisor")
    await open_panel(page)
    panel = page.locator("#warnings-panel")
    await expect(panel.locator(".warnings-list .empty")).to_be_visible()

    # A ward the city does not have is not added; one it has is, by Enter.
    await fill_texts(page, "Ngập sâu ven sông Sài Gòn", "Deep flooding along the Saigon river")
    await panel.locator("#wf-shape").select_option("none")
    ward = panel.locator("#wf-ward")
    await ward.fill("Không Có Thật")
    await ward.press("Enter")
    ward_error = panel.locator('.field-error[data-field="wards"]')
    await expect(ward_error).to_have_text(
        "Có tên không phải phường, xã của thành phố, hoặc một tên lặp lại."
    )
    await ward.fill("Thủ Đức")
    await ward.press("Enter")
    await expect(panel.locator(".ward-chips li")).to_have_text(["Thủ Đức ×"])
    await expect(ward_error).to_be_empty()
    await expect(ward).to_be_focused()
    # The gateway's refusal said in Vietnamese under its field: an expiry 20 days ahead.
    later = datetime.now() + timedelta(days=20)  # the browser's local time
    await panel.locator("#wf-expires").fill(later.strftime("%Y-%m-%dT%H:%M"))
    await panel.locator("#wf-submit").click()
    expires_error = panel.locator('.field-error[data-field="expires"]')
    await expect(expires_error).to_have_text(
        "Thời điểm hết hiệu lực phải ở tương lai và không quá 14 ngày tới."
    )
    await expect(panel.locator("#wf-expires")).to_be_focused()
    await expect(page.locator("#banner-text")).to_have_text(
        "Dữ liệu chưa hợp lệ, xem các ô được đánh dấu."
    )
    # Nothing was issued.
    assert await listed(page) == []

    # The area as a circle besides the ward: its centre placed by a click on the map, the
    # radius typed.
    soon = datetime.now() + timedelta(hours=6)  # the browser's local time
    await panel.locator("#wf-expires").fill(soon.strftime("%Y-%m-%dT%H:%M"))
    await panel.locator("#wf-shape").select_option("circle")
    await page.evaluate(
        "([lat, lon]) => { window.__icc.ui.map.map.setView([lat, lon], 13, {animate: false}); }",
        list(CENTRE),
    )
    point = await map_point(page, *CENTRE)
    await page.locator("#map").click(position=point)
    await expect(panel.locator("#wf-lat")).to_have_value(re.compile(r"^10\.84\d+$"))
    await expect(panel.locator("#wf-lon")).to_have_value(re.compile(r"^106\.7\d+$"))
    await panel.locator("#wf-radius").fill("3,5")
    await panel.locator("#wf-severity").select_option("Extreme")
    # Keyboard: Enter in a field sends the form.
    await panel.locator("#wf-radius").press("Enter")
    item = panel.locator("li.warning")
    await expect(item).to_have_count(1, timeout=WAIT_MS)
    await expect(item.locator(".warning-headline")).to_have_text("Ngập sâu ven sông Sài Gòn")
    await expect(item).to_contain_text("Đặc biệt nghiêm trọng")
    [warning] = await listed(page)
    [circle] = warning["areas"][0]["circles"]
    assert circle["radius_km"] == 3.5
    assert abs(circle["lat"] - CENTRE[0]) < 0.001 and abs(circle["lon"] - CENTRE[1]) < 0.001
    assert warning["status"] == "Actual"
    assert warning["areas"][0]["wards"] == ["Thủ Đức"]
    # Published: in the public feed, its CAP message with the circle ("lat,lon radius").
    assert await feed_titles(page) == ["Ngập sâu ven sông Sài Gòn"]
    alert = ET.fromstring(await fetch_text(page, f"/public/warnings/{warning['id']}.cap"))
    assert alert.findtext(f"{CAP}msgType") == "Alert"
    circles = [c.text or "" for c in alert.iter(f"{CAP}circle")]
    assert circles and all(c.endswith(" 3.5") for c in circles), circles

    # A drill: marked in the list, never in the public feed.
    await fill_texts(page, "Diễn tập sơ tán", "Evacuation drill")
    await panel.locator("#wf-exercise").check()
    await panel.locator("#wf-shape").select_option("none")
    await panel.locator("#wf-ward").fill("Bến Thành")
    await panel.locator("#wf-ward-add").click()
    await panel.locator("#wf-submit").click()
    await expect(item).to_have_count(2, timeout=WAIT_MS)
    [drilled] = [w for w in await listed(page) if w["status"] == "Exercise"]
    drill = panel.locator(f'li.warning[data-id="{drilled["id"]}"]')
    await expect(drill.locator(".warning-headline")).to_have_text("Diễn tập sơ tán")
    await expect(drill.locator(".warn-tag.drill")).to_have_text("Diễn tập")
    assert await feed_titles(page) == ["Ngập sâu ven sông Sài Gòn"]

    # No English in the panel in Vietnamese mode, the form's every choice included.
    english: list[str] = await page.evaluate(
        """async () => {
            const { MESSAGES } = await import('/i18n.js');
            return Object.entries(MESSAGES.en)
                .filter(([key, en]) => key.startsWith('warn.') && en !== MESSAGES.vi[key])
                .flatMap(([, en]) => en.split(/\\{\\w+\\}/).map((p) => p.trim()))
                .filter((p) => p.length >= 6 && p.includes(' '));
        }"""
    )
    # The headlines shown are a person's words in Vietnamese; the form is empty again.
    found = english_in(await panel.evaluate(VISIBLE_TEXT), english)
    assert not found, found
    # The check finds English where there is some: the same panel in English.
    await page.get_by_role("button", name="Chuyển sang tiếng Anh").click()
    await expect(panel.locator("#warnings-title")).to_have_text("Public warnings")
    await expect(drill.locator(".warning-headline")).to_have_text("Evacuation drill")
    assert english_in(await panel.evaluate(VISIBLE_TEXT), english)
    await page.get_by_role("button", name="Switch to Vietnamese").click()

    # Update: the form starts from what the warning says; a new headline is published.
    real = item.filter(has_text="Ngập sâu ven sông Sài Gòn")
    await real.get_by_role("button", name="Sửa").click()
    await expect(panel.locator("#wf-vi-headline")).to_have_value("Ngập sâu ven sông Sài Gòn")
    await expect(panel.locator("#wf-en-instruction")).to_have_value("Avoid the riverside roads.")
    await expect(panel.locator("#wf-radius")).to_have_value("3.5")
    await expect(panel.locator(".ward-chips li")).to_have_text(["Thủ Đức ×"])
    await expect(panel.locator("#wf-exercise")).to_have_count(0)  # an update keeps its kind
    await panel.locator("#wf-vi-headline").fill("Ngập rất sâu ven sông Sài Gòn")
    await panel.locator("#wf-submit").click()
    await expect(item.filter(has_text="Ngập rất sâu ven sông Sài Gòn")).to_contain_text(
        "2 bản tin", timeout=WAIT_MS
    )
    assert await feed_titles(page) == ["Ngập rất sâu ven sông Sài Gòn"]
    update = ET.fromstring(await fetch_text(page, f"/public/warnings/{warning['id']}.cap"))
    assert update.findtext(f"{CAP}msgType") == "Update"
    assert update.findtext(f"{CAP}references")

    # Cancel: a second click confirms (the first only asks), by keyboard.
    real = item.filter(has_text="Ngập rất sâu ven sông Sài Gòn")
    await real.get_by_role("button", name="Hủy cảnh báo").focus()
    await page.keyboard.press("Enter")
    confirm = real.get_by_role("button", name="Bấm lần nữa để hủy")
    await expect(confirm).to_be_focused()
    assert await feed_titles(page) == ["Ngập rất sâu ven sông Sài Gòn"]
    await page.keyboard.press("Enter")
    await expect(real.locator(".warn-tag.cancelled")).to_have_text("Đã hủy", timeout=WAIT_MS)
    await expect(real.get_by_role("button")).to_have_count(0)
    assert await feed_titles(page) == ["[HỦY / CANCELLED] Ngập rất sâu ven sông Sài Gòn"]
    cancel = ET.fromstring(await fetch_text(page, f"/public/warnings/{warning['id']}.cap"))
    assert cancel.findtext(f"{CAP}msgType") == "Cancel"
    # Esc closes the panel.
    await panel.locator("#wf-vi-headline").focus()
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    assert not errors, errors

    # A dispatcher has no such panel.
    other = await new_page(browser, errors)
    await log_in(other, stack.url, "dispatcher")
    await expect(other.locator("#search-open")).to_be_visible()
    await expect(other.locator("#warnings-open")).to_be_hidden()
    await expect(other.locator("#warnings-panel")).to_be_hidden()
    assert not errors, errors


async def test_hostile_text_in_a_warning_is_shown_as_text(stack: Stack, browser: Browser) -> None:
    errors: list[str] = []
    dialogs: list[str] = []
    pending: set[asyncio.Future[None]] = set()

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        pending.add(asyncio.ensure_future(dialog.dismiss()))

    page = await new_page(browser, errors)
    page.on("dialog", on_dialog)
    await log_in(page, stack.url, "supervisor")
    hostile = [p for p in PAYLOADS if len(p) <= 160]
    for n, text in enumerate(hostile):
        body = {
            "request_id": f"00000000-0000-4000-8000-{n:012d}",
            "exercise": n % 2 == 1,
            "category": "Safety",
            "urgency": "Immediate",
            "severity": "Severe",
            "certainty": "Observed",
            "vi": {"event": text, "headline": text, "description": text, "instruction": text},
            "en": {"event": text, "headline": text, "description": text, "instruction": text},
            "areas": [
                {
                    "description_vi": text,
                    "description_en": text,
                    "circles": [{"lat": CENTRE[0], "lon": CENTRE[1], "radius_km": 1}],
                }
            ],
            "expires": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        }
        status = await page.evaluate(
            """async (body) => (await fetch('/api/v1/warnings', {method: 'POST',
                headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})).status""",
            body,
        )
        assert status == 201, (text, status)
    await open_panel(page)
    panel = page.locator("#warnings-panel")
    headlines = panel.locator(".warning-headline")
    await expect(headlines).to_have_count(len(hostile))
    assert sorted(await headlines.all_text_contents()) == sorted(hostile)
    # Opening one for an update puts its words in the fields, as values.
    await panel.locator("li.warning").first.get_by_role("button", name="Sửa").click()
    shown = await panel.locator("#wf-vi-description").input_value()
    assert shown in hostile
    await expect(panel.locator("#wf-area-en")).to_have_value(shown)
    # In English too.
    await page.get_by_role("button", name="Chuyển sang tiếng Anh").click()
    await expect(panel.locator("#warnings-title")).to_have_text("Public warnings")
    assert sorted(await headlines.all_text_contents()) == sorted(hostile)
    assert await panel.locator("img, script, svg, details, a[href^='javascript']").count() == 0
    ran = await page.evaluate("window.__xss ?? []")
    await asyncio.gather(*pending)
    assert not ran and not dialogs and not errors, (ran, dialogs, errors)


async def test_polygon_drawn_by_clicks_and_shapes_the_form_does_not_edit_kept(
    stack: Stack, browser: Browser
) -> None:
    """A polygon drawn by three clicks replaces a warning's first circle on update; its
    other circle and its second area, which the form does not show, are sent back as
    they were."""
    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, stack.url, "supervisor")
    circles = [
        {"lat": 10.80, "lon": 106.70, "radius_km": 1.0},
        {"lat": 10.75, "lon": 106.65, "radius_km": 2.0},
    ]
    body = {
        "request_id": "00000000-0000-4000-8000-000000000100",
        "category": "Met",
        "urgency": "Expected",
        "severity": "Severe",
        "certainty": "Likely",
        "vi": {"event": "Ngập lụt", "headline": "Ngập ở hai nơi"},
        "en": {"event": "Flood", "headline": "Flooding in two places"},
        "areas": [
            {
                "description_vi": "Hai vùng trũng",
                "description_en": "Two low spots",
                "circles": circles,
            },
            {"description_vi": "Bến Thành", "description_en": "Ben Thanh", "wards": ["Bến Thành"]},
        ],
        "expires": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
    }
    status = await page.evaluate(
        """async (body) => (await fetch('/api/v1/warnings', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})).status""",
        body,
    )
    assert status == 201
    await open_panel(page)
    panel = page.locator("#warnings-panel")
    # The warning in force on the map (once the list is read): its two circles.
    await expect(panel.locator("li.warning")).to_have_count(1)
    shapes = "() => window.__icc.ui.warnings.layer.getLayers().map((l) => l.getRadius ? 'circle' : 'polygon').sort()"
    assert await page.evaluate(shapes) == ["circle", "circle"]
    await panel.locator("li.warning").get_by_role("button", name="Sửa").click()
    await expect(panel.locator("#wf-kept")).to_have_text(
        "Giữ nguyên 1 hình khác của khu vực này và 1 khu vực khác."
    )
    await panel.locator("#wf-shape").select_option("polygon")
    await page.evaluate(
        "() => { window.__icc.ui.map.map.setView([10.83, 106.76], 13, {animate: false}); }"
    )
    corners = [(10.8400, 106.7500), (10.8400, 106.7700), (10.8250, 106.7600)]
    for lat, lon in corners:
        await page.locator("#map").click(position=await map_point(page, lat, lon))
    await expect(panel.locator("#wf-points")).to_have_value(re.compile(r"^([^\n]+\n){2}[^\n]+$"))
    # Drawn: the polygon, and the circle the update keeps.
    assert await page.evaluate(shapes) == ["circle", "polygon"]
    await panel.locator("#wf-submit").click()
    await expect(panel.locator("li.warning")).to_contain_text("2 bản tin", timeout=WAIT_MS)
    [warning] = await listed(page)
    first, second = warning["areas"]
    assert first["circles"] == [circles[1]]
    [polygon] = first["polygons"]
    assert len(polygon) == 4 and polygon[-1] == polygon[0], polygon  # closed, as CAP asks
    for point, (lat, lon) in zip(polygon, corners, strict=False):
        assert abs(point["lat"] - lat) < 0.001 and abs(point["lon"] - lon) < 0.001, polygon
    assert second["wards"] == ["Bến Thành"]
    message = ET.fromstring(await fetch_text(page, f"/public/warnings/{warning['id']}.cap"))
    assert [p.text for p in message.iter(f"{CAP}polygon")], "no polygon in the CAP message"
    assert not errors, errors
