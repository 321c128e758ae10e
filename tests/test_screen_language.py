"""The dispatcher's screen in a real browser says everything in the dispatcher's language.

Debian's Chromium through Playwright, against the real gateway, the three services and a
real nats-server (tests/screen_stack.py). No English shows in Vietnamese mode on the queue,
the panel's tabs and the board (a P3 waiting for a dispatcher says it waits for a
decision); closing with units assigned is explained in Vietnamese; every reason code is
said in both languages.
"""

import json
import re
import unicodedata
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from icc_kernel.reasons import CODES
from icc_testing import NatsServer, Pki
from tests.screen_stack import NEEDS_BROWSER, WAIT_MS, Stack, log_in, new_page, running_stack
from tests.test_screen import assigned_in_the_incident
from tests.test_screen_panel import api, open_incident

pytestmark = [*NEEDS_BROWSER, pytest.mark.timeout(150)]


@pytest_asyncio.fixture
async def stack(nats_server: NatsServer, tmp_path: Path, pki: Pki) -> AsyncIterator[Stack]:
    async with running_stack(nats_server, tmp_path, pki) as running:
        yield running


# --- no English in Vietnamese mode -----------------------------------------------------------

# Every syllable of Vietnamese written without its marks: an initial, a vowel group, a final.
# Longer English words are no such syllable ("place", "reports", "assigned", "travel").
SYLLABLE = re.compile(
    r"^(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(ch|nh|ng|[cmnpt])?$",
    re.IGNORECASE,
)
# Short English words that happen to spell a Vietnamese syllable, but no Vietnamese text
# here writes without marks.
ENGLISH_SHORT = {"the", "by", "at", "in", "on", "no", "of", "is", "it", "be", "he"}
# Words that are data or symbols, not English: the unit of distance, the demo accounts'
# names (a person's account name is shown as it is, like a call sign).
DATA_WORDS = {"km", "ms", "dispatcher", "calltaker", "supervisor", "viewer"}
# And the words of hospitals' own Vietnamese names (`Bệnh viện ... Vinmec Central Park`):
# a name is said as its owner says it, like a call sign.
DATA_WORDS |= {
    word
    for hospital in json.loads(
        (files("icc_resources") / "data" / "hospitals.json").read_text("utf-8")
    )["hospitals"]
    for word in re.findall(r"[^\W_]+", unicodedata.normalize("NFC", hospital["name_vi"]))
}
# A contract's raw code: an enum name (AMBULANCE_BLS, EN_ROUTE) or a type code (FIRE.RUBBISH).
RAW_CODE = re.compile(r"\b[A-Z][A-Z0-9]*(_[A-Z0-9]+)+\b|\b[A-Z]+\.[A-Z][A-Z_]+\b")

VISIBLE_TEXT = """(root) => {
    const out = [];
    const shown = (el) => {
        if (!el || el.closest('[hidden]')) return false;
        const style = getComputedStyle(el);
        if (style.display === 'none' || style.visibility === 'hidden') return false;
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.height > 0;
    };
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode;
        const text = node.data.trim();
        if (text && shown(node.parentElement)) out.push(text);
    }
    // What a select offers, and what hovering or a screen reader says.
    for (const el of root.querySelectorAll('select')) {
        if (shown(el)) for (const o of el.options) out.push(o.text.trim());
    }
    for (const el of root.querySelectorAll('[title], [aria-label], [placeholder]')) {
        if (!shown(el)) continue;
        for (const a of ['title', 'aria-label', 'placeholder']) {
            const v = el.getAttribute(a);
            if (v && v.trim()) out.push(v.trim());
        }
    }
    return out.filter(Boolean);
}"""


def _bare(word: str) -> bool:
    """A word written in ASCII letters only (no Vietnamese marks)."""
    return word.isascii()


def english_in(texts: list[str], english: list[str]) -> list[str]:
    """What of `texts` reads as English: one of the screen's or the services' English
    sentences (or a sentence's fixed words), a raw code, or a word no Vietnamese syllable
    spells."""
    found = []
    for text in texts:
        if any(e in text for e in english):
            found.append(f"English sentence: {text!r}")
            continue
        if RAW_CODE.search(text):
            found.append(f"raw code: {text!r}")
            continue
        for word in re.findall(r"[^\W_]+", unicodedata.normalize("NFC", text)):
            # Marks: Vietnamese; capitals: ETA, PCCC; digits: ids, call signs.
            if not _bare(word) or word.isupper() or not word.isalpha() or word in DATA_WORDS:
                continue
            if word.lower() in ENGLISH_SHORT or not SYLLABLE.match(word):
                found.append(f"English word {word!r} in {text!r}")
                break
    return found


async def english_sentences(page: Page, incident_ids: list[str]) -> list[str]:
    """The English a Vietnamese screen must never show: the fixed words of every English
    label that differs from its Vietnamese one, and every English sentence the services
    wrote for these incidents (reasons, chronology, releases)."""
    labels: list[str] = await page.evaluate(
        """async () => {
            const { MESSAGES } = await import('/i18n.js');
            const out = [];
            for (const [key, en] of Object.entries(MESSAGES.en)) {
                if (en === MESSAGES.vi[key]) continue;
                for (const part of en.split(/\\{\\w+\\}/)) out.push(part.trim());
            }
            return out;
        }"""
    )
    vi_values: list[str] = await page.evaluate(
        "async () => Object.values((await import('/i18n.js')).MESSAGES.vi)"
    )
    # A fragment worth looking for: two words at least, and in no Vietnamese label.
    words = [p for p in labels if len(p) >= 6 and " " in p and not any(p in v for v in vi_values)]
    said: list[str] = []
    for incident_id in incident_ids:
        chronology = await api(page, f"/incidents/{incident_id}/chronology")
        said += [e["detail"] for e in chronology["entries"]]
        status = await api(page, f"/incidents/{incident_id}/dispatch")
        said += [a["release_reason"] for a in status["assignments"]]
        rec = await api(page, f"/incidents/{incident_id}/recommendation")
        said += [r for c in rec["candidates"] for r in c["reasons"]]
    # The services' English, less what a person wrote (shown as written, in any language).
    sentences = [s for s in said if len(s) >= 8 and not any(ord(ch) > 127 for ch in s)]
    return sorted(set(words + sentences))


async def test_no_english_in_vietnamese_mode(stack: Stack, browser: Browser) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    city = stack.city
    # A cardiac arrest is dispatched at once (P1); a rubbish fire waits for a decision (P3).
    arrest = (await city.create("MEDICAL.CARDIAC_ARREST")).name.split("/")[-1]
    rubbish = (await city.create("FIRE.RUBBISH", at=(10.7800, 106.6950))).name.split("/")[-1]
    await log_in(page, stack.url, "dispatcher")
    await open_incident(page, arrest)
    detail = page.locator("#detail-panel")
    rows = detail.locator("table.assignments tbody tr")
    await expect(rows.first).to_be_visible(timeout=WAIT_MS)
    # A life for the chronology: acknowledged, en route, a note, one unit released.
    status = await api(page, f"/incidents/{arrest}/dispatch")
    first, *rest = [a for a in status["assignments"] if a["state"] != "RELEASED"]
    await api(page, f"/assignments/{first['id']}/acknowledge", {})
    await api(page, f"/units/{first['unit']}/status", {"status": "EN_ROUTE"})
    await api(page, f"/incidents/{arrest}/notes", {"text": "Người nhà đang ép tim"})
    answer = {"question": "medical.breathing", "answer": "no"}
    await api(page, f"/incidents/{arrest}/answers", {"answers": [answer]})
    if rest:
        await api(
            page,
            f"/incidents/{arrest}/release",
            {"units": [rest[0]["unit"]], "reason": "Đủ lực lượng"},
        )
    await expect(detail.locator("tr.released")).to_have_count(1 if rest else 0, timeout=WAIT_MS)
    await expect(detail.locator("td.eta").first).to_have_text(re.compile(r"^\d+:\d\d"))
    english = await english_sentences(page, [arrest, rubbish])
    assert any("min" in e and "km" in e for e in english), english  # the ETA reasons

    regions: dict[str, list[str]] = {}
    regions["queue"] = await page.locator("#queue").evaluate(VISIBLE_TEXT)
    regions["dispatch"] = await detail.evaluate(VISIBLE_TEXT)
    await detail.get_by_role("tab", name="Diễn biến").click()
    chronology = detail.locator("table.chronology tbody tr")
    await expect(chronology.filter(has_text="Thêm ghi chú (21 ký tự)")).to_have_count(1)
    await expect(chronology.filter(has_text="báo Đang di chuyển")).to_have_count(1)
    await expect(chronology.filter(has_text="Người bệnh có thở bình thường không?")).to_have_count(
        1
    )
    regions["chronology"] = await detail.evaluate(VISIBLE_TEXT)
    await detail.get_by_role("tab", name="Ghi chú").click()
    regions["notes"] = await detail.evaluate(VISIBLE_TEXT)
    # The P3 waiting for a decision, its recommendation and override list.
    await open_incident(page, rubbish)
    await detail.get_by_role("tab", name="Điều động").click()
    await expect(detail.locator(".decision")).to_be_visible()
    await expect(detail.locator("table.candidates tbody tr").first).to_be_visible()
    await expect(detail.locator("table.override-units tbody tr").first).to_be_visible()
    regions["decision"] = await detail.evaluate(VISIBLE_TEXT)
    # The board, every group open, and a search; the map's controls.
    board = page.locator("#board")
    for group in await board.locator("details").all():
        await group.evaluate("d => (d.open = true)")
    await expect(board.locator(".chip").first).to_be_visible()
    regions["board"] = await page.locator("section.board").evaluate(VISIBLE_TEXT)
    await page.locator("#board-search").fill("xe cuu thuong")
    await expect(board.locator(".board-found")).to_contain_text("đơn vị khớp")
    regions["board search"] = await page.locator("section.board").evaluate(VISIBLE_TEXT)
    # The map: its controls, and the alerts over it (the new P1's).
    await expect(page.locator("#alerts")).to_contain_text("P1")
    regions["map"] = await page.locator(".map-wrap").evaluate(VISIBLE_TEXT)
    assert "Phóng to" in regions["map"] and "Thu nhỏ" in regions["map"]

    found = {name: english_in(texts, english) for name, texts in regions.items()}
    assert not any(found.values()), "\n".join(f"{k}: {v}" for k, v in found.items() if v)
    # The check itself finds English where there is some: the same screen in English.
    await page.get_by_role("button", name="Chuyển sang tiếng Anh").click()
    await expect(detail.locator(".decision")).to_contain_text("Awaiting a dispatcher's decision")
    assert english_in(await detail.evaluate(VISIBLE_TEXT), english)
    assert not errors, errors


async def test_closing_with_units_assigned_is_explained_in_vietnamese(
    stack: Stack, browser: Browser
) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    incident_id = (await stack.city.create("MEDICAL.CARDIAC_ARREST")).name.split("/")[-1]
    await log_in(page, stack.url, "dispatcher")
    await open_incident(page, incident_id)
    detail = page.locator("#detail-panel")
    await expect(detail.locator("table.assignments tbody tr").first).to_be_visible(timeout=WAIT_MS)
    await assigned_in_the_incident(stack.city, incident_id)
    await detail.get_by_label("Kết quả xử lý (bắt buộc)").fill("Thử kết thúc")
    await detail.get_by_role("button", name="Kết thúc sự vụ").click()
    banner = page.locator("#banner")
    await expect(banner).to_contain_text("Giải phóng mọi đơn vị trước")
    texts = await banner.evaluate(VISIBLE_TEXT)
    assert not english_in(texts, []), texts
    assert not errors, errors


# --- every code said in both languages ------------------------------------------------------

# A value for each parameter a reason may have (docs/codes.md); `before`/`after` by code.
SAMPLE = {
    "kind": "AMBULANCE_BLS",
    "planned_kind": "AMBULANCE_ALS",
    "kinds": "AMBULANCE_BLS,AMBULANCE_ALS",
    "eta_seconds": "229",
    "distance_meters": "2712",
    "crossing": "Cầu Sài Gòn",
    "count": "2",
    "station": "stations/FS-Q1-01",
    "threshold_seconds": "900",
    "agency": "FIRE",
    "planned_agency": "MEDICAL",
    "text": "Đám cháy đã tắt",
    "seconds": "60",
    "status": "ON_SCENE",
    "type_code": "FIRE.STRUCTURE",
    "priority": "P1",
    "call_line": "FIRE_114",
    "incident": "incidents/4f1c2d3e5a6b7c8d",
    "question": "medical.conscious",
    "answer": "no",
    "caller_count": "2",
    "field": "location",
    "unit": "CC-Q1-01",
    "units": "CC-Q1-01,CC-Q1-02",
    "resolution": "Đã bàn giao",
    "reason": "Trùng cuộc gọi",
    "characters": "73",
}
BEFORE_AFTER = {
    "TYPE_CHANGED": ("FIRE.RUBBISH", "FIRE.STRUCTURE"),
    "PRIORITY_CHANGED": ("P3", "P1"),
    "STATE_CHANGED": ("NEW", "DISPATCHED"),
}


async def test_every_reason_code_is_said_in_both_languages(stack: Stack, browser: Browser) -> None:
    errors: list[str] = []
    page = await new_page(browser, errors)
    await log_in(page, stack.url, "dispatcher")
    reasons = []
    for code, keys in CODES.items():
        params = {}
        for key in keys:
            name = key.rstrip("?")
            if name in ("before", "after"):
                params[name] = BEFORE_AFTER[code.name][name == "after"]
            else:
                params[name] = SAMPLE[name]
        reasons.append({"code": code.name, "params": params})
        # A parameter that may be absent: said without it too.
        if any(k.endswith("?") for k in keys):
            reasons.append(
                {
                    "code": code.name,
                    "params": {k: v for k, v in params.items() if f"{k}?" not in keys},
                }
            )
    said = await page.evaluate(
        """async (reasons) => {
            const { addQuestions, reasonText } = await import('/reasons.js');
            const asked = await fetch('/api/v1/key-questions?type_code=MEDICAL.CARDIAC_ARREST');
            addQuestions((await asked.json()).questions);
            const { setLang } = await import('/i18n.js');
            const vi = reasons.map(reasonText);
            setLang('en');
            const en = reasons.map(reasonText);
            setLang('vi');
            return { vi, en };
        }""",
        reasons,
    )
    for reason, vi, en in zip(reasons, said["vi"], said["en"], strict=True):
        for text in (vi, en):
            assert text and "{" not in text and "undefined" not in text, (reason, text)
        assert not english_in([vi], []), (reason, vi)
        if reason["code"] not in ("TEXT", "STATE_CHANGED"):
            assert vi != en, reason
    by_code = dict(zip((r["code"] for r in reasons), said["vi"], strict=False))
    assert by_code["ETA"] == "Đến sau khoảng 3 phút 49 giây, cách 2,7 km"
    assert (
        by_code["KIND_IN_PLACE_OF"]
        == "Xe cứu thương cơ bản thay cho Xe cứu thương hồi sức nâng cao"
    )
    assert by_code["TYPE_CHANGED"] == "Đổi loại: Cháy rác → Cháy nhà, công trình"
    assert by_code["QUESTION_ANSWERED"] == (
        "Trả lời câu hỏi Người bệnh có tỉnh không, có trả lời khi gọi không?: Không"
    )
    assert said["en"][[r["code"] for r in reasons].index("ETA")] == "ETA 3 min 49 s, 2.7 km"
    # A parameter left out by a service: a dash, never "{name}".
    bare = await page.evaluate(
        "async () => (await import('/reasons.js')).reasonText({code: 'CREATED', params: {}})"
    )
    assert bare == "Tạo sự vụ — —, đường dây —"
    # A field error the API wrote (in English) is said in Vietnamese on a Vietnamese screen,
    # and as the API wrote it on an English one.
    field_error = await page.evaluate(
        """async () => {
            const { showFieldErrors } = await import('/forms.js');
            const { setLang } = await import('/i18n.js');
            const root = document.createElement('div');
            const small = document.createElement('small');
            small.className = 'field-error';
            small.dataset.field = 'address';
            root.append(small);
            const fields = [{ field: 'incident.address', description: 'at most 500 characters' }];
            showFieldErrors(root, fields, { focus: false });
            const vi = small.textContent;
            setLang('en');
            small.textContent = '';
            showFieldErrors(root, fields, { focus: false });
            const en = small.textContent;
            setLang('vi');
            return { vi, en };
        }"""
    )
    assert field_error == {
        "vi": "Giá trị chưa hợp lệ, xin sửa lại.",
        "en": "at most 500 characters",
    }
    assert not errors, errors
