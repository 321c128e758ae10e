"""Call-taking on the screen in a real browser: the place typed, never clicked; the repeat
caller attached; the danger at the address; the key questions that set the priority.

Debian's Chromium, driven by Playwright, against the real gateway, the three services
(in-process, real gRPC over mutual TLS) and a real nats-server (tests/screen_stack.py).
"""

import asyncio
import math
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from icc.common.v1 import common_pb2
from icc.incident.v1 import events_pb2, incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc_dispatch.consumers import INCIDENTS
from icc_kernel.etags import version_of
from icc_testing import NatsServer, Pki
from tests.conftest import CENTRE, City
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
from tests.test_screen_language import VISIBLE_TEXT, english_in, english_sentences

pytestmark = [*NEEDS_BROWSER, pytest.mark.timeout(150)]

SCREENSHOTS = ROOT / "var" / "screenshots"

# The gazetteer's points (approximate, as it says): Bến Thành market, Tân Định ward, the
# former Bình Thạnh district.
MARKET = (10.7725, 106.6980)
TAN_DINH = (10.7905, 106.6890)
BINH_THANH = (10.8100, 106.7000)
# The bar for a place found: within 300 m of the right point.
NEAR_ENOUGH_M = 300


@pytest_asyncio.fixture
async def stack(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[Stack]:
    async with running_stack(nats_server, tmp_path, pki) as running:
        yield running


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance on the sphere, good to a metre at a city's scale."""
    lat = math.radians((a[0] + b[0]) / 2)
    dy = (a[0] - b[0]) * 111_320
    dx = (a[1] - b[1]) * 111_320 * math.cos(lat)
    return math.hypot(dx, dy)


async def open_call_form(page: Page) -> None:
    await page.get_by_role("button", name="Cuộc gọi mới").click()
    await expect(page.locator("#call-panel")).to_be_visible()


async def choose_type(page: Page, typed: str, label: str) -> None:
    box = page.get_by_role("combobox", name="Loại sự vụ")
    await box.fill(typed)
    await expect(page.locator("#cf-type-list [role=option]").first).to_contain_text(label)
    await box.press("Enter")
    await expect(box).to_have_value(label)


async def place_by_typing(page: Page, typed: str, label: str) -> None:
    """Types what the caller said and takes the best result with Enter."""
    box = page.get_by_role("combobox", name="Địa điểm")
    await box.fill(typed)
    await box.press("Enter")
    await expect(box).to_have_value(label)


async def form_point(page: Page) -> tuple[float, float]:
    lat = await page.get_by_label("Vĩ độ").input_value()
    lon = await page.get_by_label("Kinh độ").input_value()
    return float(lat), float(lon)


async def submit_call(page: Page) -> str:
    """Sends the form; the id of the incident the detail then opens on."""
    await page.get_by_role("button", name="Tạo sự vụ", exact=True).click()
    await expect(page.locator("#detail-panel #detail-title")).to_be_visible()
    await expect(page.locator("#banner")).to_contain_text("Đã tạo sự vụ")
    text = await page.locator("#banner-text").text_content() or ""
    short = re.search(r"sự vụ ([0-9a-f]{8})", text)
    assert short, text
    ids = await page.evaluate("[...window.__icc.state.picture.incidents.keys()]")
    found = [i for i in ids if i.startswith(short.group(1))]
    if not found:  # the stream may bring it a moment after the reply
        await page.wait_for_function(
            "p => [...window.__icc.state.picture.incidents.keys()].some((i) => i.startsWith(p))",
            arg=short.group(1),
            timeout=WAIT_MS,
        )
        ids = await page.evaluate("[...window.__icc.state.picture.incidents.keys()]")
        found = [i for i in ids if i.startswith(short.group(1))]
    assert len(found) == 1, found
    return str(found[0])


async def incident(city: City, incident_id: str) -> incident_pb2.Incident:
    request = incident_pb.GetIncidentRequest(name=f"incidents/{incident_id}")
    return (await city.incidents.GetIncident(request, timeout=5)).incident


async def dispatch_has_handled(city: City, incident_now: incident_pb2.Incident) -> None:
    """Until dispatch has acknowledged the event that brought the incident to its version
    now. Its consumer handles one incident's events in stream order and acks each once
    handled: whatever that event would make dispatch do is done by then."""
    version = version_of(incident_now.etag)
    assert version is not None, incident_now.etag
    deadline = time.monotonic() + WAIT_MS / 1000
    nc = await nats.connect(city.nats.url)
    try:
        js = nc.jetstream()
        seq, read = 0, 0
        while not seq:
            info = await js.stream_info(INCIDENTS.stream)
            for n in range(max(read + 1, info.state.first_seq), info.state.last_seq + 1):
                msg = await js.get_msg(INCIDENTS.stream, n)
                read = n
                if msg.subject != "icc.incident.updated":
                    continue
                event = events_pb2.IncidentUpdated.FromString(msg.data or b"")
                if event.incident.name == incident_now.name and (
                    (version_of(event.incident.etag) or 0) >= version
                ):
                    seq = n
                    break
            if not seq:
                assert time.monotonic() < deadline, f"no event of version {version} published"
                await asyncio.sleep(0.05)
        while True:
            consumer = await js.consumer_info(INCIDENTS.stream, INCIDENTS.durable)
            if consumer.ack_floor is not None and (consumer.ack_floor.stream_seq or 0) >= seq:
                return
            assert time.monotonic() < deadline, f"dispatch has not acked event {seq}"
            await asyncio.sleep(0.05)
    finally:
        await nc.close()


def units_aside(found: list[str]) -> list[str]:
    """The English check's findings, less the symbols of metres and centimetres ("cách
    40 m", "ấn sâu 5 cm")."""
    return [f for f in found if not f.startswith(("English word 'm' ", "English word 'cm' "))]


async def api_get(page: Page, path: str) -> Any:
    return await page.evaluate(
        "async (path) => { const r = await fetch(`/api/v1${path}`);"
        " return {status: r.status, body: await r.json()}; }",
        path,
    )


async def test_calls_are_placed_by_typing_a_landmark_a_ward_and_an_old_district(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    # Another incident on the map, where the call-taker will click while placing a call.
    other = await stack.city.create("POLICE.THEFT_MOTORBIKE", at=CENTRE)
    await log_in(page, stack.url, "calltaker")

    # The map opens on the urban core, not the whole province (Cần Giờ, Côn Đảo).
    view = await page.evaluate(
        "() => { const m = window.__icc.ui.map.map, b = m.getBounds();"
        " return {zoom: m.getZoom(), market: b.contains([10.7725, 106.698]),"
        " thuDuc: b.contains([10.85, 106.76]), canGio: b.contains([10.41, 106.95]),"
        " conDao: b.contains([8.68, 106.61])}; }"
    )
    assert view["market"] and view["thuDuc"], view
    assert not view["canGio"] and not view["conDao"], view
    assert view["zoom"] >= 11.5, view

    await open_call_form(page)
    calls = []

    # A landmark (a market), without diacritics: Enter takes the best result at once.
    await choose_type(page, "chay rac", "Cháy rác")
    await place_by_typing(page, "cho ben thanh", "Chợ Bến Thành")
    assert metres(await form_point(page), MARKET) < NEAR_ENOUGH_M
    await expect(page.get_by_label("Phường, xã")).to_have_value("Bến Thành")
    await expect(page.locator("#cf-place-chosen")).to_contain_text("gần đúng")
    await page.wait_for_function("window.__icc.ui.map.pickMarker !== null", timeout=WAIT_MS)

    # A click on another incident's marker while placing a call moves the call there: it
    # opens nothing and the form stays.
    await zoom_to(page, *CENTRE, 17)
    await page.locator("#map").click(position=await map_point(page, *CENTRE))
    await expect(page.locator("#call-panel")).to_be_visible()
    await expect(page.locator("#detail-panel")).to_be_hidden()
    assert metres(await form_point(page), CENTRE) < 30
    await expect(page.get_by_role("combobox", name="Địa điểm")).to_have_value("")
    await place_by_typing(page, "cho ben thanh", "Chợ Bến Thành")
    calls.append((await submit_call(page), MARKET))

    # A ward, without diacritics, chosen with the arrow keys: down, up, Enter.
    await open_call_form(page)
    await choose_type(page, "trom xe may", "Trộm xe máy")
    box = page.get_by_role("combobox", name="Địa điểm")
    await box.fill("phuong tan dinh")
    options = page.locator("#cf-place-list [role=option]")
    await expect(options.first).to_contain_text("Phường Tân Định")
    await expect(options.nth(1)).to_be_visible()
    await box.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await expect(box).to_have_attribute("aria-activedescendant", "cf-place-opt-1")
    await box.press("ArrowUp")
    await expect(options.first).to_have_attribute("aria-selected", "true")
    await box.press("Enter")
    await expect(box).to_have_value("Phường Tân Định")
    assert metres(await form_point(page), TAN_DINH) < NEAR_ENOUGH_M
    calls.append((await submit_call(page), TAN_DINH))

    # A district that no longer exists, as callers still say it: what it became is shown.
    await open_call_form(page)
    await choose_type(page, "nguoi benh", "Người bệnh cần cấp cứu")
    await page.get_by_role("combobox", name="Địa điểm").fill("quan binh thanh")
    first = page.locator("#cf-place-list [role=option]").first
    await expect(first).to_contain_text("Quận Bình Thạnh")
    await expect(first).to_contain_text("Quận, huyện cũ")
    await expect(first).to_contain_text("nay là")
    await page.get_by_role("combobox", name="Địa điểm").press("Enter")
    await expect(page.get_by_role("combobox", name="Địa điểm")).to_have_value("Quận Bình Thạnh")
    calls.append((await submit_call(page), BINH_THANH))

    for incident_id, where in calls:
        made = await incident(stack.city, incident_id)
        at = (made.location.lat, made.location.lon)
        assert metres(at, where) < NEAR_ENOUGH_M, (incident_id, at, where)
        # The account's agency is the command center: the call came in on 112.
        assert made.call_line == incident_pb2.CALL_LINE_EMERGENCY_112
    # The incident clicked over was never opened nor changed.
    assert (await incident(stack.city, other.name.rpartition("/")[2])).etag == other.etag
    assert not errors, errors


async def test_a_repeat_call_is_attached_to_the_incident_without_a_second_dispatch(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    first = await stack.city.create("MEDICAL.CARDIAC_ARREST", at=MARKET)
    first_id = first.name.rpartition("/")[2]
    await log_in(page, stack.url, "calltaker")
    # A P1: dispatch sends its plan's units at once.
    await page.wait_for_function(
        """async (id) => { const r = await fetch(`/api/v1/incidents/${id}/dispatch`);
        return r.ok && (await r.json()).state === 'COMPLETE'; }""",
        arg=first_id,
        timeout=WAIT_MS,
        polling=200,
    )
    before = (await api_get(page, f"/incidents/{first_id}/dispatch"))["body"]["assignments"]
    assert before

    # Seconds later, another caller at the same market: the form offers the incident.
    await open_call_form(page)
    await page.get_by_label("Đường dây").select_option("MEDICAL_115")
    await choose_type(page, "ngung tim", "Ngừng tim")
    await place_by_typing(page, "cho ben thanh", "Chợ Bến Thành")
    await page.get_by_label("Số điện thoại").fill("0912345678")
    offered = page.locator(f'#cf-duplicates li[data-incident="{first_id}"]')
    await expect(offered).to_contain_text("Ngừng tim")
    await expect(offered).to_contain_text("cách")
    await expect(page.locator("#cf-duplicates")).to_contain_text("không điều động thêm")
    await offered.get_by_role("button", name="Gắn vào sự vụ này").dblclick()

    # The call joins the incident: its detail opens, no new incident anywhere.
    await expect(page.locator("#banner")).to_contain_text(
        f"Đã gắn người gọi vào sự vụ {first_id[:8]}"
    )
    await expect(page.locator("#call-panel")).to_be_hidden()
    await expect(page.locator("#detail-panel #detail-title")).to_have_text("Ngừng tim")
    await expect(page.locator("#queue .qrow")).to_have_count(1)
    listed = await stack.city.incidents.ListIncidents(
        incident_pb.ListIncidentsRequest(page_size=50), timeout=5
    )
    assert [i.name for i in listed.incidents] == [first.name]
    joined = await incident(stack.city, first_id)
    # Once, though the button was pressed twice (one attach id per form).
    assert [(c.phone, c.call_line) for c in joined.additional_callers] == [
        ("0912345678", incident_pb2.CALL_LINE_MEDICAL_115)
    ]
    # Dispatch, once it has handled the caller's event, holds the one set of assignments it
    # made for the first call.
    await dispatch_has_handled(stack.city, joined)
    after = (await api_get(page, f"/incidents/{first_id}/dispatch"))["body"]
    assert after["state"] == "COMPLETE"
    assert sorted(a["unit"] for a in after["assignments"]) == sorted(a["unit"] for a in before)

    # The same caller again, from elsewhere and before any type or place: the phone alone
    # finds the incident.
    await open_call_form(page)
    await page.get_by_label("Số điện thoại").fill("0912345678")
    await page.get_by_label("Số điện thoại").press("Tab")
    offered = page.locator(f'#cf-duplicates li[data-incident="{first_id}"]')
    await expect(offered).to_contain_text("cùng số điện thoại")
    # Not this one: the call goes on as new, the offer is put away.
    await page.get_by_role("button", name="Sự việc khác, không trùng").click()
    await expect(page.locator("#cf-duplicates")).to_be_hidden()
    assert not errors, errors


async def test_cautions_at_the_place_and_key_questions_that_raise_the_priority(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    # Three calls at the market this month: the history says so.
    for code in ("POLICE.ROBBERY", "POLICE.THEFT_MOTORBIKE", "MEDICAL.SICK_PERSON"):
        await stack.city.create(code, at=MARKET)

    # A supervisor enters a caution at the market from the call form.
    boss = await new_page(browser, errors)
    await log_in(boss, stack.url, "supervisor")
    await open_call_form(boss)
    await place_by_typing(boss, "cho ben thanh", "Chợ Bến Thành")
    premises = boss.locator("#cf-premises")
    await expect(premises).to_contain_text("Không có cảnh báo tại địa điểm.")
    await expect(premises).to_contain_text("Sự vụ gần đây (30 ngày qua)")
    await premises.get_by_text("Thêm cảnh báo tại địa điểm").click()
    await premises.get_by_label("Loại cảnh báo").select_option("VIOLENCE")
    # Nothing written: the screen asks for the text next to its field.
    await premises.get_by_role("button", name="Lưu cảnh báo").click()
    await expect(premises.locator("#cf-caution-text-err")).to_have_text("Bắt buộc nhập.")
    caution = "Quầy số 12: người bán có tiền sử hành hung, mang dao"
    await premises.get_by_label("Nội dung cảnh báo").fill(caution)
    await premises.get_by_role("button", name="Lưu cảnh báo").click()
    await expect(premises.locator(".caution-list")).to_contain_text(caution)
    await expect(premises.locator(".caution-list")).to_contain_text("Bạo lực")

    # A call-taker at the same market sees it, and the place's history; enters none.
    page = await new_page(browser, errors)
    await log_in(page, stack.url, "calltaker")
    await open_call_form(page)
    await page.get_by_label("Đường dây").select_option("MEDICAL_115")
    await choose_type(page, "nguoi benh", "Người bệnh cần cấp cứu")
    await expect(page.get_by_label("Mức ưu tiên")).to_have_value("3")
    await place_by_typing(page, "cho ben thanh", "Chợ Bến Thành")
    premises = page.locator("#cf-premises")
    await expect(premises.locator(".caution-list")).to_contain_text(caution)
    await expect(premises.locator(".history")).to_contain_text("2 an ninh trật tự")
    await expect(premises.locator(".history")).to_contain_text("1 cấp cứu")
    await expect(premises.get_by_text("Thêm cảnh báo tại địa điểm")).to_have_count(0)

    # The key questions: "not breathing" makes the call P1 at once, with CPR to tell.
    questions = page.locator("#cf-questions")
    breathing = questions.locator('fieldset[data-question="medical.breathing"]')
    await expect(breathing).to_contain_text("Người bệnh có thở bình thường không?")
    await (
        questions.locator('fieldset[data-question="medical.conscious"]')
        .get_by_label("Có", exact=True)
        .check()
    )
    await expect(page.get_by_label("Mức ưu tiên")).to_have_value("3")
    # Each answer says the priority it calls for.
    await breathing.get_by_label("Không P1", exact=True).check()
    await expect(page.get_by_label("Mức ưu tiên")).to_have_value("1")
    await expect(page.locator("#cf-priority-why")).to_contain_text("P1 theo câu trả lời")
    await expect(page.locator("#cf-priority-why")).to_contain_text("Sẽ ghi nhận là: Ngừng tim")
    await expect(page.locator("#cf-instructions")).to_contain_text("Hướng dẫn ép tim ngay")

    # In English, one click; and back, with no English left in Vietnamese.
    await page.get_by_role("button", name="Chuyển sang tiếng Anh").click()
    await expect(breathing).to_contain_text("Is the patient breathing normally?")
    await expect(page.locator("#cf-instructions")).to_contain_text("Start CPR now")
    await expect(page.locator("#cf-priority-why")).to_contain_text(
        "Will be recorded as: Cardiac arrest"
    )
    await expect(premises).to_contain_text("Violence")
    await expect(premises).to_contain_text("At this place")
    await expect(page.get_by_label("Line")).to_have_value("MEDICAL_115")
    await page.get_by_role("button", name="Switch to Vietnamese").click()
    await expect(breathing).to_contain_text("Người bệnh có thở bình thường không?")
    # No English left: the dispatch panel's check (tests/test_screen_language.py) over the
    # whole form, its questions, instructions, duplicates, cautions and history shown, and
    # the supervisor's caution form; in English the same check finds English.
    english = await english_sentences(page, [])
    await expect(page.locator("#cf-duplicates li")).not_to_have_count(0)
    form = await page.locator("#call-panel").evaluate(VISIBLE_TEXT)
    await boss.get_by_text("Thêm cảnh báo tại địa điểm").click()
    form += await boss.locator("#cf-premises").evaluate(VISIBLE_TEXT)
    assert not units_aside(english_in(form, english)), form
    await boss.get_by_role("button", name="Chuyển sang tiếng Anh").click()
    await expect(boss.locator("#cf-premises")).to_contain_text("At this place")
    assert english_in(await boss.locator("#cf-premises").evaluate(VISIBLE_TEXT), english)

    # The call form, for people: `var/screenshots/calltaking.png`.
    await page.mouse.move(5, 300)
    await page.screenshot(path=str(tmp_path / "calltaking.png"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "calltaking.png", SCREENSHOTS / "calltaking.png")

    incident_id = await submit_call(page)
    made = await incident(stack.city, incident_id)
    assert made.priority == common_pb2.PRIORITY_P1
    assert made.type_code == "MEDICAL.CARDIAC_ARREST"
    assert made.call_line == incident_pb2.CALL_LINE_MEDICAL_115
    assert {(a.question, a.answer) for a in made.answers} == {
        ("medical.conscious", "yes"),
        ("medical.breathing", "no"),
    }
    assert [c.text for c in made.cautions] == [caution]
    assert not errors, errors
