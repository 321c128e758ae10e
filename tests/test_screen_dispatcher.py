"""The dispatcher's screen under pressure, in a real browser against the real services.

Alerts that wait for a dispatcher's acknowledgement, the keyboard (F2 takes a whole call,
the command line assigns a unit with a reason), correcting an incident (a P4 raised to P1
is dispatched; a stale etag is explained), finding a closed incident again, and the layout
at 1280x720 and 1920x1080 checked by element geometry. Debian's Chromium through
Playwright (tests/screen_stack.py).
"""

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from icc_gateway.domain.kpis import KpiSettings
from icc_testing import NatsServer, Pki
from tests.screen_stack import (
    NEEDS_BROWSER,
    WAIT_MS,
    Stack,
    log_in,
    new_page,
    running_stack,
)

pytestmark = [*NEEDS_BROWSER, pytest.mark.timeout(150)]

# The queue must show at least this many rows whole at 1280x720.
QUEUE_ROWS = 6


@pytest_asyncio.fixture
async def stack(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[Stack]:
    async with running_stack(nats_server, tmp_path, pki) as running:
        yield running


async def call_api(page: Page, method: str, path: str, body: object = None) -> Any:
    """The gateway's API as the signed-in screen calls it; raises on an error status."""
    reply = await page.evaluate(
        """async ([method, path, body]) => {
            const res = await fetch('/api/v1' + path, {method, credentials: 'same-origin',
                headers: {'Content-Type': 'application/json', Accept: 'application/json'},
                body: body == null ? undefined : JSON.stringify(body)});
            return {status: res.status, data: res.status === 204 ? null : await res.json()};
        }""",
        [method, path, body],
    )
    assert reply["status"] < 300, reply
    return reply["data"]


async def tab_to(page: Page, element_id: str, most: int = 40) -> None:
    """Presses Tab until `element_id` has the keyboard (a bounded number of times)."""
    for _ in range(most):
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} never got the focus in {most} presses of Tab")


async def focused_id(page: Page) -> str:
    return str(await page.evaluate("document.activeElement ? document.activeElement.id : ''"))


async def test_a_new_p1_raises_an_alert_the_dispatcher_acknowledges(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, stack.url, "dispatcher")
    alerts = page.locator("#alerts")
    await expect(alerts).to_be_hidden()
    # Signed in by a click: the sound is armed, and says so.
    sound = page.locator("#sound")
    await expect(sound).to_have_attribute("data-state", "on")
    await expect(sound).to_have_text("♪ Âm báo: bật")

    incident = await stack.city.create("MEDICAL.CARDIAC_ARREST")
    incident_id = incident.name.split("/")[-1]
    alert = alerts.locator(".alert-item")
    await expect(alert).to_have_count(1)
    await expect(alert).to_contain_text("Sự vụ P1 mới")
    await expect(alert).to_contain_text("Ngừng tim")
    await expect(alert).to_have_attribute("data-incident", incident_id)
    assert await page.evaluate("window.__icc.ui.alerts.tone.played") >= 1
    # It stays until acknowledged, whatever else happens (dispatch sends units meanwhile).
    await expect(page.locator(f'#queue .qrow[data-id="{incident_id}"] .units')).not_to_have_text(
        re.compile("^$|Chưa có đơn vị")
    )
    await expect(alert).to_have_count(1)
    await alert.get_by_role("button", name="Đã biết").click()
    await expect(alerts).to_be_hidden()

    # Acknowledged by this dispatcher: a reload does not raise it again, while a P1 not yet
    # acknowledged that arrived meanwhile does.
    second = await stack.city.create("FIRE.STRUCTURE")
    await expect(alert).to_have_count(1)
    await page.reload()
    await page.wait_for_function("() => window.__icc && window.__icc.stats.snapshots > 0")
    await expect(alert).to_have_count(1)
    await expect(alert).to_have_attribute("data-incident", second.name.split("/")[-1])
    # The keyboard acknowledges the most urgent alert; the sound can be switched off.
    await page.locator("#queue-title").click()
    await page.keyboard.press("a")
    await expect(alerts).to_be_hidden()
    await sound.click()
    await expect(sound).to_have_text("♪ Âm báo: tắt")
    assert not errors, errors


async def test_a_unit_that_does_not_acknowledge_raises_an_escalation_alert(
    nats_server: NatsServer, tmp_path: Path, pki: Pki, browser: Browser
) -> None:
    # Units must acknowledge within 2 s here: nobody does, so dispatch escalates.
    async with running_stack(nats_server, tmp_path, pki, ack_within=timedelta(seconds=2)) as stack:
        errors: list[str] = []
        page = await new_page(browser, errors)
        await log_in(page, stack.url, "dispatcher")
        incident = await stack.city.create("MEDICAL.CARDIAC_ARREST")
        incident_id = incident.name.split("/")[-1]
        new = page.locator('#alerts .alert-item[data-kind="new"]')
        await new.get_by_role("button", name="Đã biết").click()
        await expect(new).to_have_count(0)
        escalation = page.locator('#alerts .alert-item[data-kind="escalation"]').first
        await expect(escalation).to_contain_text("không xác nhận kịp", timeout=WAIT_MS)
        await expect(escalation).to_have_attribute("data-incident", incident_id)
        await escalation.get_by_role("button", name="Mở").click()
        await expect(page.locator("#detail-title")).to_have_text("Ngừng tim")
        assert not errors, errors


async def test_incidents_waiting_for_a_dispatcher_sort_first_and_count_as_waiting(
    stack: Stack, browser: Browser
) -> None:
    # "Waiting" after a second, so the test need not wait the minute the screen uses.
    await stack.stop_gateway()
    stack.config = replace(stack.config, kpis=KpiSettings(wait_after_s=1.0))
    await stack.start_gateway()
    errors: list[str] = []
    page = await new_page(browser, errors)
    handled = await stack.city.create("MEDICAL.CARDIAC_ARREST")
    waiting = await stack.city.create("POLICE.FRAUD")
    await log_in(page, stack.url, "dispatcher")
    rows = page.locator("#queue .qrow")
    await expect(rows).to_have_count(2)
    # The P4 waits for a decision: above the P1 that dispatch has handled.
    await expect(rows.nth(1)).to_have_attribute("data-id", handled.name.split("/")[-1])
    await expect(rows.nth(1).locator(".units")).not_to_be_empty()
    first = rows.nth(0)
    await expect(first).to_have_attribute("data-id", waiting.name.split("/")[-1])
    await expect(first).to_contain_text("P4")
    await expect(first.locator(".units")).to_have_text("Chờ quyết định")
    await expect(first).to_have_class(re.compile(r"\bwaiting\b"))
    # The KPI strip counts it as waiting for units, and says it awaits a decision.
    kpi = page.locator('#kpis [data-kpi="waiting"]')
    await expect(kpi.locator("strong")).to_have_text("1", timeout=WAIT_MS)
    await expect(kpi).to_contain_text("1 chờ quyết định")
    await kpi.click()
    await expect(page.locator("#detail-title")).to_have_text("Lừa đảo chiếm đoạt tài sản")
    assert not errors, errors


async def test_f2_opens_the_call_form_and_a_whole_call_is_taken_by_keyboard(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, stack.url, "dispatcher")
    # The keyboard map, shown with "?".
    await page.keyboard.press("?")
    help_box = page.locator("#keys-help")
    await expect(help_box).to_be_visible()
    await expect(help_box).to_contain_text("N · F2")
    await expect(help_box).to_contain_text("Ctrl+K")
    await page.keyboard.press("Escape")
    await expect(help_box).to_be_hidden()

    # "n" opens the form with the type search focused, and the "n" is not typed into it.
    await page.keyboard.press("n")
    type_box = page.locator("#cf-type")
    await expect(type_box).to_be_focused()
    await expect(type_box).to_have_value("")
    await page.keyboard.press("Escape")  # the type list first
    await page.keyboard.press("Escape")  # then the form
    await expect(page.locator("#call-panel")).to_be_hidden()

    # F2, and the first word typed lands in the type search.
    await page.keyboard.press("F2")
    await expect(type_box).to_be_focused()
    await page.keyboard.type("ngung tim")
    await expect(type_box).to_have_value("ngung tim")
    await expect(page.locator("#cf-type-list [role=option]").first).to_contain_text("Ngừng tim")
    await page.keyboard.press("Enter")
    await expect(type_box).to_have_value("Ngừng tim")
    await tab_to(page, "cf-address")
    await page.keyboard.type("36 Lê Lợi")
    await tab_to(page, "cf-lat")
    await page.keyboard.type("10.7725")
    await tab_to(page, "cf-lon")
    await page.keyboard.type("106.6980")
    await tab_to(page, "cf-description")
    await page.keyboard.type("Người đàn ông ngã gục, không thở")
    await tab_to(page, "cf-submit")
    await page.keyboard.press("Enter")

    detail = page.locator("#detail-panel")
    await expect(detail.locator("#detail-title")).to_have_text("Ngừng tim")
    row = page.locator("#queue .qrow").first
    await expect(row).to_contain_text("36 Lê Lợi")
    # The call-taker's own new P1 raises no alert on their screen.
    await expect(page.locator("#alerts .alert-item")).to_have_count(0)
    # Esc closes the detail; the queue takes the keyboard, Enter opens the row again.
    await page.keyboard.press("Escape")
    await expect(detail).to_be_hidden()
    await page.keyboard.press("q")
    await expect(row).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(detail.locator("#detail-title")).to_have_text("Ngừng tim")
    assert not errors, errors


async def test_the_command_line_assigns_a_named_unit_with_a_reason(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    incident = await stack.city.create("MEDICAL.SICK_PERSON")
    incident_id = incident.name.split("/")[-1]
    await log_in(page, stack.url, "dispatcher")
    await page.locator(f'#queue .qrow[data-id="{incident_id}"]').click()
    detail = page.locator("#detail-panel")
    await expect(detail.locator("#detail-title")).to_have_text("Người bệnh cần cấp cứu")
    # A medical unit that is free, by its call sign.
    call_sign = await page.evaluate(
        """() => [...window.__icc.state.picture.units.values()]
            .filter((u) => u.agency === 'MEDICAL' && u.status === 'AVAILABLE')
            .map((u) => u.call_sign).sort()[0]"""
    )
    assert call_sign

    command = page.locator("#cmd-input")
    out = page.locator("#cmd-out")
    await page.keyboard.press("Control+k")
    await expect(command).to_be_focused()
    await expect(page.locator("#cmd-target")).to_contain_text(incident_id[:8])
    # Without a reason: refused in words, nothing sent.
    await page.keyboard.type(f"dieu {call_sign.lower()}")
    await page.keyboard.press("Enter")
    await expect(out).to_contain_text("cần lý do")
    await command.fill("")
    await page.keyboard.type(f"dieu {call_sign} gần hiện trường hơn")
    await page.keyboard.press("Enter")
    await expect(page.locator("#cmd")).to_be_hidden()
    await expect(page.locator("#banner")).to_contain_text(f"Đã điều động {call_sign}.")
    await expect(detail.locator("table.assignments")).to_contain_text(call_sign)

    status = await call_api(page, "GET", f"/incidents/{incident_id}/dispatch")
    [assignment] = status["assignments"]
    assert assignment["call_sign"] == call_sign
    assert assignment["override_reason"] == "gần hiện trường hơn"
    assert assignment["assigned_by"]["user"] == "dispatcher"

    # "p2" raises the priority (with the etag read just before).
    await page.keyboard.press("Control+k")
    await page.keyboard.type("p2")
    await page.keyboard.press("Enter")
    await expect(page.locator("#cmd")).to_be_hidden()
    await expect(page.locator(f'#queue .qrow[data-id="{incident_id}"] .badge')).to_have_text("P2")

    # An unknown command is answered in words and the line stays open; Esc closes it.
    await page.keyboard.press("Control+k")
    await page.keyboard.type("bay di")
    await page.keyboard.press("Enter")
    await expect(out).to_contain_text('Không có lệnh "bay"')
    await page.keyboard.press("Escape")
    await expect(page.locator("#cmd")).to_be_hidden()
    assert not errors, errors


async def test_raising_a_p4_to_p1_from_the_detail_dispatches_it(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    incident = await stack.city.create("POLICE.FRAUD")
    incident_id = incident.name.split("/")[-1]
    await log_in(page, stack.url, "dispatcher")
    await page.locator(f'#queue .qrow[data-id="{incident_id}"]').click()
    detail = page.locator("#detail-panel")
    await expect(detail.locator(".dispatch-state")).to_contain_text("Chờ điều phối viên")
    await expect(detail.locator("table.assignments")).to_have_count(0)

    # Someone else corrects it while this dispatcher's form is open: the save is refused
    # in words, nothing written, and a reload offered.
    await detail.get_by_role("button", name="Sửa").click()
    form = detail.locator("#edit-form")
    await expect(form.get_by_label("Mức ưu tiên")).to_have_value("4")
    current = await call_api(page, "GET", f"/incidents/{incident_id}")
    await call_api(
        page,
        "PATCH",
        f"/incidents/{incident_id}",
        {"etag": current["incident"]["etag"], "description": "Người gọi bổ sung: 2 nạn nhân"},
    )
    await form.get_by_label("Mức ưu tiên").select_option("1")
    await form.get_by_role("button", name="Lưu thay đổi").click()
    await expect(form.locator(".stale")).to_contain_text("sự vụ đã được thay đổi")
    after = await call_api(page, "GET", f"/incidents/{incident_id}")
    assert after["incident"]["priority"] == 4
    await form.get_by_role("button", name="Tải lại").click()
    await expect(form.get_by_label("Mô tả")).to_have_value("Người gọi bổ sung: 2 nạn nhân")

    # Raised to P1 on the fresh etag: dispatch plans again and sends units by itself.
    await form.get_by_label("Mức ưu tiên").select_option("1")
    await form.get_by_role("button", name="Lưu thay đổi").click()
    await expect(page.locator("#banner")).to_contain_text("Đã cập nhật sự vụ")
    await expect(form).to_have_count(0)
    await expect(detail.locator(".summary .badge")).to_have_text("P1")
    await expect(detail.locator("table.assignments tbody tr").first).to_be_visible(timeout=WAIT_MS)
    row = page.locator(f'#queue .qrow[data-id="{incident_id}"]')
    await expect(row.locator(".badge")).to_have_text("P1")
    await expect(row.locator(".units")).not_to_have_text(re.compile("^$|Chờ|Chưa"))
    status = await call_api(page, "GET", f"/incidents/{incident_id}/dispatch")
    # Dispatch's own plan, not an override, and no longer waiting for a dispatcher.
    assert status["assignments"] and not any(a["override"] for a in status["assignments"])
    assert status["state"] != "AWAITING_DISPATCHER", status["state"]
    assert not errors, errors


async def test_a_closed_incident_is_found_by_search_and_opened_again(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    closed = await stack.city.create("MEDICAL.SICK_PERSON")
    closed_id = closed.name.split("/")[-1]
    await stack.city.create("POLICE.FRAUD")
    await log_in(page, stack.url, "dispatcher")
    await call_api(page, "POST", f"/incidents/{closed_id}/close", {"resolution": "Đã tự đi viện"})
    await expect(page.locator(f'#queue .qrow[data-id="{closed_id}"]')).to_have_count(0)

    # F3: the search, the words typed at once.
    await page.keyboard.press("F3")
    words = page.locator("#search-q")
    await expect(words).to_be_focused()
    await page.keyboard.type("nguoi benh sai gon")
    await page.locator("#search-state").select_option("ended")
    await page.locator("#search-submit").click()
    results = page.locator("#search-panel button.result")
    await expect(results).to_have_count(1)
    await expect(results).to_contain_text("Người bệnh cần cấp cứu")
    await expect(results).to_contain_text("Đã kết thúc")
    await results.click()
    detail = page.locator("#detail-panel")
    await expect(detail.locator("#detail-title")).to_have_text("Người bệnh cần cấp cứu")
    await expect(detail.locator(".state-chip")).to_have_text("Đã kết thúc")
    await expect(detail).to_contain_text("Đã tự đi viện")
    # Closing the detail goes back to the results; by id, whenever it was created.
    await page.keyboard.press("Escape")
    await expect(results).to_have_count(1)
    await words.fill(closed_id)
    await page.locator("#search-state").select_option("all")
    await words.press("Enter")
    await expect(results).to_have_count(1)
    await expect(results).to_have_attribute("data-id", closed_id)
    assert not errors, errors


def inside(box: dict[str, float] | None, width: int, height: int) -> bool:
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width + 0.5
        and box["y"] + box["height"] <= height + 0.5
    )


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)], ids=["1280x720", "1920x1080"])
async def test_the_layout_clips_nothing(
    stack: Stack, browser: Browser, size: tuple[int, int]
) -> None:
    width, height = size
    for _ in range(QUEUE_ROWS + 2):
        await stack.city.create("POLICE.ROBBERY")
    errors: list[str] = []
    page = await new_page(browser, errors)
    await page.set_viewport_size({"width": width, "height": height})
    await log_in(page, stack.url, "dispatcher")
    await expect(page.locator("#queue .qrow")).to_have_count(QUEUE_ROWS + 2)

    # The header: every control inside the window, each on one line.
    header = await page.evaluate(
        """() => [...document.querySelectorAll('.topbar > *')]
            .filter((el) => el.offsetParent !== null)
            .map((el) => { const r = el.getBoundingClientRect();
                return {id: el.id || el.className, x: r.x, y: r.y, width: r.width,
                        height: r.height}; })"""
    )
    for item in header:
        assert inside(item, width, 48), item
        assert item["height"] <= 40, item  # a line of text and its padding: never two
    # The map opens on the urban core.
    centre = await page.evaluate(
        "(() => { const c = window.__icc.ui.map.map.getCenter(); return [c.lat, c.lng]; })()"
    )
    assert 10.72 < centre[0] < 10.83 and 106.63 < centre[1] < 106.75, centre
    assert await page.evaluate("window.__icc.ui.map.map.getZoom()") >= 12

    # The queue shows at least six whole rows.
    whole = await page.evaluate(
        """() => { const box = document.querySelector('#queue-scroll').getBoundingClientRect();
            return [...document.querySelectorAll('#queue .qrow')].filter((row) => {
                const r = row.getBoundingClientRect();
                return r.top >= box.top && r.bottom <= box.bottom + 0.5; }).length; }"""
    )
    assert whole >= QUEUE_ROWS, whole

    # The call form whole in the window, its submit button included; the map still usable.
    await page.keyboard.press("F2")
    await expect(page.locator("#cf-type")).to_be_focused()
    await page.keyboard.press("Escape")  # the type list, which covers the fields below
    for selector in [
        "#call-title",
        "#cf-type",
        "#cf-priority",
        "#cf-address",
        "#cf-ward",
        "#cf-lat",
        "#cf-lon",
        "#cf-caller-name",
        "#cf-caller-phone",
        "#cf-description",
        "#cf-submit",
    ]:
        box = await page.locator(selector).bounding_box()
        assert inside(box, width, height), (selector, box)
    map_box = await page.locator("#map").bounding_box()
    assert map_box is not None and map_box["width"] >= 400, map_box
    assert not errors, errors
