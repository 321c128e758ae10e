"""The dispatcher's panel and unit board in a real browser: Vietnamese throughout.

Debian's Chromium through Playwright, against the real gateway, the three services and a
real nats-server (tests/screen_stack.py). The override picker lists every available unit
by ETA and warns beyond the mutual-aid threshold; stale and never-reported positions are
shown as such on the map and the board; a closed incident's clocks stop, and crews' welfare
timers turn visible past their threshold. No English in Vietnamese mode, closing with
units assigned explained in Vietnamese, and every reason code in both languages:
tests/test_screen_language.py.
"""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp
from playwright.async_api import Browser, Page, expect

from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc_testing import NatsServer, Pki
from tests.conftest import City
from tests.screen_stack import NEEDS_BROWSER, WAIT_MS, Stack, log_in, new_page, running_stack
from tests.test_screen import released_in_the_incident

pytestmark = [*NEEDS_BROWSER, pytest.mark.timeout(150)]

ETA_CLOCK = re.compile(r"^\d+:\d\d$")


@pytest_asyncio.fixture
async def stack(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[Stack]:
    async with running_stack(nats_server, tmp_path, pki) as running:
        yield running


async def open_incident(page: Page, incident_id: str) -> None:
    await page.locator(f'#queue .qrow[data-id="{incident_id}"]').click()
    await expect(page.locator("#detail-panel")).to_be_visible()


async def api(page: Page, path: str, body: dict[str, Any] | None = None) -> Any:
    """The gateway's API as the signed-in screen calls it."""
    return await page.evaluate(
        """async ([path, body]) => {
            const init = body ? {method: 'POST', headers: {'Content-Type': 'application/json'},
                                 body: JSON.stringify(body)} : {};
            const reply = await fetch('/api/v1' + path, init);
            if (!reply.ok) throw new Error(path + ': ' + reply.status + ' ' + await reply.text());
            return reply.json();
        }""",
        [path, body],
    )


# --- the override picker ---------------------------------------------------------------------


async def test_override_list_is_sorted_by_eta_and_warns_beyond_mutual_aid(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    # A P3 rubbish fire waits for a dispatcher: a decision, not a shortage.
    incident = await stack.city.create("FIRE.RUBBISH")
    incident_id = incident.name.split("/")[-1]
    await log_in(page, stack.url, "dispatcher")
    await open_incident(page, incident_id)
    detail = page.locator("#detail-panel")
    decision = detail.locator(".decision")
    await expect(decision).to_contain_text("Chờ điều phối viên quyết định")
    await expect(decision).to_contain_text("Phương án cần chọn")
    # How long it has waited, kept up with the panel's clock (ticked and read in one task:
    # the panel's own tick, each second, puts the real time back in between).
    await page.wait_for_function(
        """() => {
            window.__icc.ui.detail.tick(Date.now() + 125000);
            const el = document.querySelector('#detail-panel .decision .decision-since');
            const m = el && /\\((\\d+):(\\d\\d)\\)/.exec(el.textContent);
            // 2:05 on at least (more by the time it took to get here), as m:ss.
            return !!m && Number(m[1]) * 60 + Number(m[2]) >= 125;
        }""",
        timeout=5000,
    )
    await expect(detail).not_to_contain_text("thiếu")

    # Every available unit, nearest first, each with its ETA as m:ss, distance and agency.
    rows = detail.locator("table.override-units tbody tr")
    await expect(rows).to_have_count(15)
    etas = [int(e) for e in await rows.evaluate_all("rs => rs.map(r => r.dataset.eta)")]
    nearest = await rows.evaluate_all("rs => rs.map(r => r.dataset.unit).join()")
    assert etas == sorted(etas) and etas[0] > 0, etas
    first = rows.first
    await expect(first.locator("td.eta")).to_have_text(ETA_CLOCK)
    await expect(first.locator("td").nth(3)).to_have_text(re.compile(r"^\d+,\d km$"))
    ranked = await api(page, f"/incidents/{incident_id}/available-units")
    assert [c["eta_s"] for c in ranked["candidates"][:15]] == etas
    seconds = etas[0]
    await expect(first.locator("td.eta")).to_have_text(f"{seconds // 60}:{seconds % 60:02d}")

    # Filtered by kind: only ambulances, still nearest first.
    await detail.get_by_label("Loại xe").select_option(label="Xe cứu thương cơ bản")
    await expect(rows.first).to_contain_text("Xe cứu thương cơ bản")
    kinds = await rows.locator("td:nth-child(2) .kind").all_inner_texts()
    assert set(kinds) == {"Xe cứu thương cơ bản"}, kinds
    bls = [int(e) for e in await rows.evaluate_all("rs => rs.map(r => r.dataset.eta)")]
    assert bls == sorted(bls)

    # A unit beyond the mutual-aid threshold: marked in the list, and a warning once chosen.
    await detail.get_by_label("Loại xe").select_option(value="")
    await page.wait_for_function(
        """units => [...document.querySelectorAll('table.override-units tbody tr')]
                     .map(r => r.dataset.unit).join() === units""",
        arg=nearest,
        timeout=WAIT_MS,
    )
    far = detail.locator("table.override-units tr.far")
    more = detail.locator('[data-key="override-more"]')
    for _ in range(40):
        if await far.count() or not await more.count():
            break
        shown = await rows.count()
        await more.click()  # asks the gateway for the next units further away
        await expect(rows).not_to_have_count(shown)
    await expect(far.first).to_contain_text("Ngoài ngưỡng chi viện")
    far_unit = await far.first.get_attribute("data-unit")
    far_eta = int(await far.first.get_attribute("data-eta") or 0)
    assert far_eta > 900
    await far.first.locator("input[type=radio]").check()
    warning = detail.locator('[data-key="override-far"]')
    await expect(warning).to_contain_text("Xa hơn ngưỡng chi viện (15 phút 0 giây)")
    await expect(warning).to_contain_text(f"{far_eta // 60} phút")

    # Assigned with a reason: its ETA (m:ss) in the assignments.
    await detail.get_by_label("Lý do (bắt buộc)").fill("Đơn vị gần hơn đang bận")
    await detail.get_by_role("button", name="Điều động", exact=True).click()
    assigned = detail.locator(f'table.assignments tr[data-unit="{far_unit}"]')
    await expect(assigned.locator("td.eta")).to_contain_text(
        f"{far_eta // 60}:{far_eta % 60:02d}", timeout=WAIT_MS
    )
    assert not errors, errors


# --- positions not to trust --------------------------------------------------------------


async def report(
    city: City, unit: resource_pb2.Unit, at: tuple[float, float], taken: datetime
) -> None:
    stamp = Timestamp()
    stamp.FromDatetime(taken)
    position = resource_pb2.Position(lat=at[0], lon=at[1], report_time=stamp)
    reply = await city.resources_as("simulator").ReportPosition(
        resource_pb.ReportPositionRequest(
            report=resource_events.UnitPositionReported(unit=unit.name, position=position)
        ),
        timeout=5,
    )
    assert reply.accepted


async def test_stale_and_never_reported_positions_are_shown(stack: Stack, browser: Browser) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    city = stack.city
    fresh, stale = (await city.available(resource_pb2.UNIT_KIND_ENGINE))[:2]
    now = datetime.now(UTC)
    await report(city, fresh, (10.7760, 106.7000), now)
    await report(city, stale, (10.7800, 106.7050), now - timedelta(minutes=5))
    # This browser's clock is ten minutes fast: staleness is judged on the gateway's.
    await page.clock.set_system_time(now + timedelta(minutes=10))
    await log_in(page, stack.url, "dispatcher")
    assert await page.evaluate("Date.now()") > (now + timedelta(minutes=9)).timestamp() * 1000
    await page.wait_for_function(
        "ids => ids.every(id => window.__icc.state.picture.units.get(id)?.position_time)",
        arg=[fresh.name.split("/")[-1], stale.name.split("/")[-1]],
        timeout=WAIT_MS,
    )
    states = await page.evaluate(
        """() => {
            const out = {};
            for (const [id, m] of window.__icc.ui.map.units) out[id] = [m._where, m.options.dashArray, m.options.fillOpacity];
            return out;
        }"""
    )
    fresh_id, stale_id = fresh.name.split("/")[-1], stale.name.split("/")[-1]
    assert states[fresh_id] == ["fresh", None, 1]
    assert states[stale_id][:2] == ["stale", "2 2"]
    never = [s for s in states.values() if s[0] == "never"]
    assert len(never) == len(states) - 2 and all(s[1:] == [None, 0.15] for s in never)
    tip = await page.evaluate(
        "id => window.__icc.ui.map.unitTip(window.__icc.state.picture.units.get(id))", stale_id
    )
    assert re.search(r"Vị trí cũ: báo lần cuối 5 phút \d+ giây trước", tip), tip
    never_id = next(i for i, s in states.items() if s[0] == "never")
    tip = await page.evaluate(
        "id => window.__icc.ui.map.unitTip(window.__icc.state.picture.units.get(id))", never_id
    )
    assert "Chưa từng báo vị trí: hiển thị tại trạm" in tip
    # A fresh position goes stale with time alone (no change arrives to say so).
    later = await page.evaluate(
        """id => { const map = window.__icc.ui.map; map.restyleUnits(Date.now() + 120000);
                  const m = map.units.get(id); const where = m._where; map.restyleUnits(Date.now());
                  return [where, map.units.get(id)._where]; }""",
        fresh_id,
    )
    assert later == ["stale", "fresh"]

    # The board: each agency says how many positions not to trust; a search shows which.
    fire = page.locator('#board section.agency[data-agency="FIRE"] h3')
    await expect(fire.locator(".position-issues")).to_have_text(
        re.compile(r"^\d+ chưa định vị · 1 vị trí cũ$")
    )
    await page.locator("#board-search").fill(stale.call_sign)
    chip = page.locator(f'#board .chip[data-unit="{stale_id}"]')
    await expect(chip).to_have_attribute("data-position", "stale")
    await expect(chip).to_contain_text("vị trí cũ")
    await page.locator("#board-search").fill(fresh.call_sign)
    await expect(page.locator(f'#board .chip[data-unit="{fresh_id}"]')).to_have_attribute(
        "data-position", "fresh"
    )
    never_sign = await page.evaluate(
        "id => window.__icc.state.picture.units.get(id).call_sign", never_id
    )
    await page.locator("#board-search").fill(never_sign)
    await expect(page.locator(f'#board .chip[data-unit="{never_id}"]')).to_contain_text(
        "chưa định vị"
    )
    # Grouped by station: a group per station, named, with counts.
    await page.locator("#board-search").fill("")
    await page.get_by_label("Nhóm theo").select_option(value="station")
    groups = page.locator("#board details.status-group")
    assert await groups.count() > 20
    await expect(groups.first.locator(".count")).to_have_text(re.compile(r"^\d+$"))
    assert not errors, errors


# --- clocks that stop, and crews' welfare ----------------------------------------------------


async def test_timers_stop_at_close_and_welfare_turns_visible(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    city = stack.city
    incident_id = (await city.create("MEDICAL.CARDIAC_ARREST")).name.split("/")[-1]
    await log_in(page, stack.url, "dispatcher")
    await open_incident(page, incident_id)
    detail = page.locator("#detail-panel")
    rows = detail.locator("table.assignments tbody tr")
    await expect(rows.first).to_be_visible(timeout=WAIT_MS)
    status = await api(page, f"/incidents/{incident_id}/dispatch")
    unit = status["assignments"][0]["unit"]
    # The ambulance's hospital (dispatch chose it, respecting diversion) is on its row.
    carried = [a for a in status["assignments"] if a["destination_hospital"]]
    assert carried, status["assignments"]
    destination = detail.locator(f'tr[data-unit="{carried[0]["unit"]}"] .destination')
    hospital = await page.evaluate(
        "id => window.__icc.state.picture.hospitals.get(id.split('/').pop()).name_vi",
        carried[0]["destination_hospital"],
    )
    await expect(destination).to_have_text(f"Chở đến: {hospital}")
    for step in ("EN_ROUTE", "ON_SCENE"):
        await api(page, f"/units/{unit}/status", {"status": step})

    # On scene: the crew's welfare timer runs, unremarkable until its threshold.
    timer = detail.locator(f'tr[data-unit="{unit}"] .welfare')
    await expect(timer).to_have_text(re.compile(r"^Tại hiện trường 0:\d\d$"), timeout=WAIT_MS)
    await expect(timer).not_to_have_class(re.compile("amber|red"))
    tip = await page.evaluate(
        "id => window.__icc.ui.map.unitTip(window.__icc.state.picture.units.get(id))", unit
    )
    assert re.search(r"Tại hiện trường 0:\d\d", tip), tip

    async def ticked(minutes: int, level: str) -> str:
        """The crew's timer `minutes` on, once it shows `level`: ticked and read in one task,
        as the panel's own tick (each second) puts the real time back in between."""
        found = await page.wait_for_function(
            """([unit, minutes, level]) => {
                window.__icc.ui.detail.tick(Date.now() + minutes * 60000);
                const el = document.querySelector(`#detail-panel tr[data-unit="${unit}"] .welfare`);
                return !!el && el.classList.contains(level) && el.textContent;
            }""",
            arg=[unit, minutes, level],
            timeout=5000,
        )
        return str(await found.json_value())

    assert re.match(r"^Tại hiện trường 2[01]:\d\d$", await ticked(21, "amber"))
    assert re.match(r"^Tại hiện trường 3[12]:\d\d$", await ticked(31, "red"))
    # The board says so on the group, even closed. Ticked and read in one task, until the
    # board shows the crew on scene: its own tick (each second) and its re-render after a
    # unit's change show the real time again, and either may come between a tick here and
    # a look from the test.
    overdue = '#board section.agency details[data-status="ON_SCENE"] summary .overdue'
    await page.wait_for_function(
        """(selector) => {
            window.__icc.ui.board.tick(Date.now() + 31 * 60000);
            const el = document.querySelector(selector);
            return !!el && !el.hidden && el.textContent === '1 quá giờ' && el.classList.contains('red');
        }""",
        arg=overdue,
        timeout=5000,
    )
    on_scene = page.locator(overdue).first
    await page.evaluate("window.__icc.ui.board.tick(Date.now())")
    await expect(on_scene).to_be_hidden()

    # Released and closed: no welfare timer, and the incident's clocks stop.
    await api(page, f"/incidents/{incident_id}/release", {"reason": "Đã chuyển viện"})
    await released_in_the_incident(city, incident_id)
    await detail.get_by_label("Kết quả xử lý (bắt buộc)").fill("Đã bàn giao bệnh viện")
    await detail.get_by_role("button", name="Kết thúc sự vụ").click()
    await expect(detail.locator(".state-chip")).to_have_text("Đã kết thúc", timeout=WAIT_MS)
    await expect(detail.locator(".welfare")).to_have_count(0)
    timers = detail.locator(".timers strong")
    await page.evaluate("window.__icc.ui.detail.tick(Date.now())")
    stopped = await timers.all_inner_texts()
    await page.evaluate("window.__icc.ui.detail.tick(Date.now() + 3 * 60000)")
    assert await timers.all_inner_texts() == stopped
    assert stopped[0] != "—"
    assert not errors, errors
