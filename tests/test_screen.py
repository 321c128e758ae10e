"""The dispatcher's screen in a real browser.

Debian's Chromium, driven by Playwright, against the real gateway, the three services
(in-process, real gRPC) and a real nats-server. A dispatcher takes a call through the form,
sees the incident in the queue and on the map, sees dispatch's units arrive live, acknowledges
one, releases them and closes the incident; the language switches with one click; a viewer
sees no action buttons. A screenshot of the main screen goes to `var/screenshots/main.png`.

Playwright's own browsers are never downloaded (no `playwright install`): the tests skip
when `/usr/bin/chromium` is missing (`apt-get install -y chromium`).
"""

import asyncio
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc_testing import NatsServer, Pki
from tests.conftest import City
from tests.screen_stack import (
    NEEDS_BROWSER,
    ROOT,
    WAIT_MS,
    Stack,
    log_in,
    map_point,
    new_page,
    running_stack,
    zoom_to,
)

SCREENSHOTS = ROOT / "var" / "screenshots"
# Near Bến Thành market, Saigon ward.
CALL_AT = (10.7725, 106.6980)
# A duration on the KPI strip (m:ss), not the dash of "nothing measured yet".
KPI_TIME = re.compile(r"^\d+:\d\d$")

pytestmark = [*NEEDS_BROWSER, pytest.mark.timeout(150)]


@pytest_asyncio.fixture
async def stack(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[Stack]:
    async with running_stack(nats_server, tmp_path, pki) as running:
        yield running


async def released_in_the_incident(city: City, incident_id: str) -> None:
    """Until the incidents service has recorded every release (the screen may show them
    first, from dispatch's own events): then the incident may close."""
    deadline = time.monotonic() + WAIT_MS / 1000
    request = incident_pb.GetIncidentRequest(name=f"incidents/{incident_id}")
    while True:
        incident = (await city.incidents.GetIncident(request, timeout=5)).incident
        states = {a.state for a in incident.assignments}
        if states == {common_pb2.ASSIGNMENT_STATE_RELEASED}:
            return
        assert time.monotonic() < deadline, f"releases not recorded: {states}"
        await asyncio.sleep(0.05)


async def assigned_in_the_incident(city: City, incident_id: str) -> None:
    """Until the incidents service has recorded an assignment (the screen may show it first,
    from dispatch's own events): then a close is refused for units still assigned."""
    deadline = time.monotonic() + WAIT_MS / 1000
    request = incident_pb.GetIncidentRequest(name=f"incidents/{incident_id}")
    while not (await city.incidents.GetIncident(request, timeout=5)).incident.assignments:
        assert time.monotonic() < deadline, "no assignment recorded"
        await asyncio.sleep(0.05)


async def test_dispatcher_takes_a_call_sees_units_arrive_and_closes_it(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    started = time.monotonic()
    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, stack.url, "dispatcher")
    await expect(page.locator("#user")).to_contain_text("Điều phối viên")
    await expect(page.locator("#counts")).to_contain_text("0 sự vụ đang mở")

    # Call taking: the type found without diacritics, its priority filled in.
    await page.get_by_role("button", name="Cuộc gọi mới").click()
    type_box = page.get_by_role("combobox", name="Loại sự vụ")
    await type_box.fill("chay nha")
    first = page.locator("#cf-type-list [role=option]").first
    await expect(first).to_contain_text("Cháy nhà, công trình")
    await type_box.press("Enter")
    await expect(type_box).to_have_value("Cháy nhà, công trình")
    await expect(page.get_by_label("Mức ưu tiên")).to_have_value("1")

    # No location yet: the screen says so next to the field. Outside the city: the API's
    # field error, next to the field too, said in Vietnamese.
    submit = page.get_by_role("button", name="Tạo sự vụ")
    await submit.click()
    await expect(page.locator("#cf-lat-err")).to_contain_text("Bấm vào bản đồ")
    await page.get_by_label("Vĩ độ").fill("12.5")
    await page.get_by_label("Kinh độ").fill("100.1")
    await submit.click()
    await expect(page.locator("#cf-location-err")).to_contain_text(
        "nằm ngoài Thành phố Hồ Chí Minh"
    )
    await expect(page.locator("#banner")).to_contain_text("Dữ liệu chưa hợp lệ")

    # The location: a click on the map (zoomed in, so the click lands on no marker).
    await zoom_to(page, *CALL_AT, 17)
    point = await map_point(page, *CALL_AT)
    await page.locator("#map").click(position=point)
    await expect(page.get_by_label("Vĩ độ")).to_have_value(re.compile(r"^10\.77"))
    await expect(page.get_by_label("Kinh độ")).to_have_value(re.compile(r"^106\.69"))
    await page.get_by_label("Địa chỉ").fill("36 Lê Lợi")
    await page.get_by_label("Phường, xã").fill("Bến Thành")
    await page.get_by_label("Họ tên").fill("Nguyễn Văn An")
    await page.get_by_label("Số điện thoại").fill("0909123456")
    await page.get_by_label("Mô tả").fill("Khói đen từ tầng 2, có người mắc kẹt")
    # A marker that a reload would lose: the units must arrive without one.
    await page.evaluate("window.__noReload = true")
    # Twice: one request_id per call, so one incident.
    await submit.dblclick()

    # The detail opens on the new incident; it is in the queue and on the map.
    detail = page.locator("#detail-panel")
    await expect(detail.locator("#detail-title")).to_have_text("Cháy nhà, công trình")
    row = page.locator("#queue .qrow").first
    await expect(row).to_contain_text("Cháy nhà, công trình")
    await expect(row).to_contain_text("P1")
    await expect(row).to_contain_text("Bến Thành")
    incident_id = await row.get_attribute("data-id")
    assert incident_id
    await expect(page.locator("#queue .qrow")).to_have_count(1)
    await page.wait_for_function(
        "id => window.__icc.ui.map.incidents.has(id)", arg=incident_id, timeout=WAIT_MS
    )

    # Dispatch assigns the plan's units (P1 is automatic): they arrive live, no reload.
    assignments = detail.locator("table.assignments tbody tr")
    await expect(assignments).to_have_count(5, timeout=WAIT_MS)
    await expect(row.locator(".units")).not_to_be_empty()
    await expect(row.locator(".state")).to_contain_text("Đã điều động")
    assert await page.evaluate("window.__noReload === true")
    assert await page.evaluate("window.__icc.stats.snapshots") == 1
    assert await page.evaluate("window.__icc.stats.applied") > 0
    # The KPI strip: the call counted, the fire's call -> dispatch time measured.
    kpis = page.locator("#kpis")
    await expect(kpis).to_contain_text("Gọi → điều động", timeout=WAIT_MS)
    await expect(kpis.locator('[data-kpi="dispatch-FIRE"]')).to_have_text(KPI_TIME, timeout=WAIT_MS)
    await expect(kpis.locator('[data-kpi="calls"] strong')).to_have_text("1")

    # The map: a click on the incident's marker opens its detail.
    await detail.get_by_role("button", name="Đóng").click()
    await expect(detail).to_be_hidden()
    await zoom_to(page, *CALL_AT, 17)
    point = await map_point(page, *CALL_AT)
    await page.locator("#map").click(position=point)
    await expect(detail.locator("#detail-title")).to_have_text("Cháy nhà, công trình")
    await expect(assignments).to_have_count(5)

    # The main screen, for people: the city around the incident, its detail open.
    await zoom_to(page, *CALL_AT, 12)
    await page.mouse.move(5, 300)  # no tooltip in the picture
    await page.wait_for_timeout(300)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(tmp_path / "main.png"))
    shutil.copyfile(tmp_path / "main.png", SCREENSHOTS / "main.png")

    # Acknowledge one assignment.
    await detail.get_by_role("button", name="Xác nhận").first.click()
    await expect(detail.locator(".assignment-state", has_text="Đã xác nhận")).to_have_count(1)

    # Release them all (a reason is required), then close with a resolution.
    await detail.get_by_role("button", name="Giải phóng tất cả").click()
    await expect(detail.locator("#release-reason-err")).to_have_text("Bắt buộc nhập.")
    # A live refresh redraws the panel: the error stays until the form is sent again.
    await page.evaluate("window.__icc.ui.detail.render()")
    await expect(detail.locator("#release-reason-err")).to_have_text("Bắt buộc nhập.")
    await detail.get_by_label("Lý do giải phóng").fill("Đám cháy đã được dập tắt")
    await detail.get_by_role("button", name="Giải phóng tất cả").click()
    await expect(detail.locator("tr.released")).to_have_count(5)
    # The incident learns of the releases from dispatch's events (the screen may show them
    # a moment earlier, from dispatch's own): then it may close.
    # Every unit released: the row says it has none (attention.js) instead of call signs.
    await expect(row.locator(".units")).to_have_text("Chưa có đơn vị")
    await released_in_the_incident(stack.city, incident_id)
    await detail.get_by_label("Kết quả xử lý (bắt buộc)").fill("Đã dập tắt, không có thương vong")
    await detail.get_by_role("button", name="Kết thúc sự vụ").click()
    await expect(page.locator(f'#queue .qrow[data-id="{incident_id}"]')).to_have_count(0)
    await expect(detail.locator(".state-chip")).to_have_text("Đã kết thúc")
    await page.wait_for_function(
        "id => !window.__icc.ui.map.incidents.has(id)", arg=incident_id, timeout=WAIT_MS
    )
    await expect(page.locator("#banner.error")).to_be_hidden()
    assert not errors, errors
    assert time.monotonic() - started < 90


async def test_language_switches_with_one_click_and_is_remembered(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    await stack.city.create("MEDICAL.CARDIAC_ARREST")
    await log_in(page, stack.url, "calltaker")
    queue_title = page.locator("#queue-title")
    await expect(queue_title).to_contain_text("Hàng đợi sự vụ")
    await expect(page.locator("#queue .qrow").first).to_contain_text("P1")
    # Call takers create incidents and add notes, but do not dispatch.
    await expect(page.get_by_role("button", name="Cuộc gọi mới")).to_be_visible()
    await expect(page.locator("#user")).to_contain_text("Tiếp nhận cuộc gọi")

    await page.get_by_role("button", name="Chuyển sang tiếng Anh").click()
    await expect(queue_title).to_contain_text("Incident queue")
    await expect(page.get_by_role("button", name="New call")).to_be_visible()
    await expect(page.locator("#conn")).to_have_text("Live")
    await expect(page.locator("#user")).to_contain_text("Call taker")
    await expect(page.locator("#board-title")).to_have_text("Units")
    await expect(page.locator("#board")).to_contain_text("Fire & rescue (114)")
    # The KPI strip in English, once dispatch has sent the cardiac arrest its units.
    kpis = page.locator("#kpis")
    await expect(kpis).to_contain_text("Call → dispatch", timeout=WAIT_MS)
    await expect(kpis.locator('[data-kpi="dispatch-MEDICAL"]')).to_have_text(
        KPI_TIME, timeout=WAIT_MS
    )
    await expect(page.locator("html")).to_have_attribute("lang", "en")

    # Remembered across a reload.
    await page.reload()
    await expect(queue_title).to_contain_text("Incident queue", timeout=WAIT_MS)
    row = page.locator("#queue .qrow").first
    await expect(row).to_contain_text("Cardiac arrest")
    await row.click()
    detail = page.locator("#detail-panel")
    await expect(detail.get_by_role("tab", name="Notes")).to_be_visible()
    # Not a dispatcher: no dispatch actions; not a supervisor: no timeline.
    await expect(detail.get_by_role("button", name="Assign selected units")).to_have_count(0)
    await expect(detail.get_by_role("button", name="Close incident")).to_have_count(0)
    await expect(detail.get_by_role("tab", name="Timeline")).to_have_count(0)
    await detail.get_by_role("tab", name="Notes").click()
    await detail.get_by_label("Note text").fill("Caller is doing CPR")
    await detail.get_by_role("button", name="Add note").click()
    await expect(detail.locator("ol.notes")).to_contain_text("Caller is doing CPR")

    await page.get_by_role("button", name="Switch to Vietnamese").click()
    await expect(queue_title).to_contain_text("Hàng đợi sự vụ")
    await expect(detail.get_by_role("tab", name="Ghi chú")).to_be_visible()
    # Every label has both languages.
    missing = await page.evaluate(
        """async () => {
            const { MESSAGES } = await import('/i18n.js');
            const vi = Object.keys(MESSAGES.vi), en = Object.keys(MESSAGES.en);
            return [...vi.filter((k) => !en.includes(k)), ...en.filter((k) => !vi.includes(k))];
        }"""
    )
    assert missing == []
    assert not errors, errors


async def test_viewer_sees_the_picture_without_actions(stack: Stack, browser: Browser) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    await stack.city.create("POLICE.ROBBERY")
    await log_in(page, stack.url, "viewer")
    await expect(page.locator("#user")).to_contain_text("Người xem")
    await expect(page.get_by_role("button", name="Cuộc gọi mới")).to_be_hidden()
    await page.locator("#queue .qrow").first.click()
    detail = page.locator("#detail-panel")
    await expect(detail.locator("#detail-title")).to_have_text("Cướp tài sản")
    await expect(detail.get_by_role("tab", name="Điều động")).to_be_visible()
    await expect(detail.locator("form")).to_have_count(0)
    await expect(detail.locator("td.actions")).to_have_count(0)
    await detail.get_by_role("tab", name="Ghi chú").click()
    await expect(detail.locator("form")).to_have_count(0)
    # Logging out ends the stream and returns to the login form.
    await page.get_by_role("button", name="Đăng xuất").click()
    await expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
    assert not errors, errors


async def test_screen_stays_live_across_a_gateway_restart(stack: Stack, browser: Browser) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    await stack.city.create("MEDICAL.CARDIAC_ARREST")
    await log_in(page, stack.url, "dispatcher")
    rows = page.locator("#queue .qrow")
    await expect(rows).to_have_count(1)
    await page.evaluate("window.__noReload = true")

    await stack.stop_gateway()
    await expect(page.locator("#conn")).to_have_text(re.compile("Đang kết nối lại…|Mất kết nối"))
    # What happens while the screen is cut off reaches it when it is back.
    await stack.city.create("POLICE.ROBBERY")
    await stack.start_gateway()
    await expect(page.locator("#conn")).to_have_text("Trực tuyến", timeout=WAIT_MS)
    await expect(rows).to_have_count(2, timeout=WAIT_MS)
    await expect(rows.nth(0)).to_contain_text("Ngừng tim")
    assert await page.evaluate("window.__noReload === true")

    # A session that ended meanwhile (signed out in another tab): the next reconnect is
    # refused, and the screen asks to sign in again.
    await page.evaluate("fetch('/api/v1/session', {method: 'DELETE'})")
    await stack.stop_gateway()
    await stack.start_gateway()
    await expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#app-view")).to_be_hidden()
    assert not errors, errors
