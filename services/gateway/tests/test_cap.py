"""Public warnings as CAP 1.2: every message ICC issues (alert, update, cancel; a real
warning and a drill; polygons, circles and wards; Vietnamese and English) validates against
the OASIS schema, and the public Atom feed never lists a drill."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest

from icc_city.gazetteer import gazetteer
from icc_gateway import cap
from icc_gateway.domain import warnings as w
from icc_kernel.errors import IllegalTransition, InvalidInput

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
WARDS = frozenset(p.ward for p in gazetteer().places if p.kind in ("ward", "commune"))
NS = {"cap": cap.CAP, "atom": cap.ATOM}

FLOOD = w.WarningDraft(
    category=w.Category.MET,
    urgency=w.Urgency.EXPECTED,
    severity=w.Severity.SEVERE,
    certainty=w.Certainty.LIKELY,
    vi=w.Text(
        "Triều cường",
        "Triều cường đạt đỉnh 1,7 m lúc 18 giờ",
        "Nước dâng tại các tuyến đường ven sông Sài Gòn.",
        "Không đi qua đường ngập; di chuyển xe lên chỗ cao.",
    ),
    en=w.Text(
        "Tidal flooding",
        "Tide to peak at 1.7 m at 18:00",
        "Water rising on the streets along the Saigon river.",
        "Do not drive through flooded streets; move vehicles to higher ground.",
    ),
    areas=(
        w.Area(
            "Ven sông Sài Gòn, phường Thủ Đức",
            "Saigon riverbank, Thu Duc ward",
            polygons=(((10.80, 106.72), (10.81, 106.74), (10.79, 106.75), (10.78, 106.73)),),
        ),
        w.Area(
            "Quanh cầu Bình Lợi",
            "Around Binh Loi bridge",
            circles=(w.Circle(10.825, 106.708, 1.5),),
        ),
    ),
    expires=NOW + timedelta(hours=12),
)
FIRE = replace(
    FLOOD,
    category=w.Category.FIRE,
    urgency=w.Urgency.IMMEDIATE,
    severity=w.Severity.EXTREME,
    certainty=w.Certainty.OBSERVED,
    vi=w.Text("Cháy lớn", "Cháy kho hóa chất: đóng cửa sổ", "", "Tránh xa khu vực."),
    en=w.Text("Major fire", "Chemical warehouse fire: close windows", "", "Keep away."),
    areas=(w.Area("Phường Bến Thành", "Ben Thanh ward", wards=("Bến Thành",)),),
)


def issued(draft: w.WarningDraft, warning_id: str = "flood-1") -> w.PublicWarning:
    return w.issue(draft, warning_id=warning_id, by="supervisor", now=NOW, known_wards=WARDS)


def parsed(document: bytes) -> ET.Element:
    assert cap.faults(document) == [], "conforms to the OASIS CAP 1.2 schema"
    return ET.fromstring(document)


@pytest.mark.parametrize(
    "draft", [FLOOD, FIRE, replace(FLOOD, exercise=True)], ids=["flood", "fire", "drill"]
)
def test_alert_update_and_cancel_conform_to_cap_in_both_languages(draft: w.WarningDraft) -> None:
    first = issued(draft)
    later = w.update(
        first,
        replace(draft, severity=w.Severity.EXTREME),
        now=NOW + timedelta(minutes=30),
        known_wards=WARDS,
    )
    ended = w.cancel(later, now=NOW + timedelta(hours=1))
    for n, message in enumerate(ended.messages):
        alert = parsed(cap.to_cap(ended, message))
        assert alert.findtext("cap:msgType", namespaces=NS) == ["Alert", "Update", "Cancel"][n]
        assert alert.findtext("cap:status", namespaces=NS) == (
            "Exercise" if draft.exercise else "Actual"
        )
        assert alert.findtext("cap:sent", namespaces=NS).endswith("+07:00")
        references = alert.findtext("cap:references", default="", namespaces=NS).split()
        assert references == [cap.reference(m) for m in ended.messages[:n]]
        infos = alert.findall("cap:info", NS)
        assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["vi-VN", "en-US"]
        assert infos[0].findtext("cap:headline", namespaces=NS) == draft.vi.headline
        assert infos[1].findtext("cap:headline", namespaces=NS) == draft.en.headline
    polygons = [p.text for p in parsed(cap.to_cap(first)).iter(f"{{{cap.CAP}}}polygon")]
    circles = [c.text for c in parsed(cap.to_cap(first)).iter(f"{{{cap.CAP}}}circle")]
    if draft.areas[0].polygons:
        # Closed: the ring ends on its first point; once per language.
        assert polygons == ["10.8,106.72 10.81,106.74 10.79,106.75 10.78,106.73 10.8,106.72"] * 2
        assert circles == ["10.825,106.708 1.5"] * 2
    else:
        values = [v.text for v in parsed(cap.to_cap(first)).iter(f"{{{cap.CAP}}}value")]
        assert values == ["Bến Thành"] * 2


def test_the_schema_check_finds_a_message_that_does_not_conform() -> None:
    good = cap.to_cap(issued(FLOOD))
    assert cap.faults(good) == []
    assert cap.faults(good.replace(b">Alert<", b">Alarm<"))
    assert cap.faults(good.replace(b"<urgency>Expected</urgency>", b""))


def test_the_public_feed_lists_real_unexpired_warnings_never_drills() -> None:
    real = issued(FLOOD, "flood-1")
    drill = issued(replace(FLOOD, exercise=True), "drill-1")
    gone = issued(replace(FIRE, expires=NOW + timedelta(minutes=5)), "fire-1")
    cancelled = w.cancel(issued(FIRE, "fire-2"), now=NOW + timedelta(minutes=1))
    feed = ET.fromstring(
        cap.to_atom(
            [real, drill, gone, cancelled],
            base_url="https://icc.example",
            now=NOW + timedelta(minutes=10),
        )
    )
    entries = feed.findall("atom:entry", NS)
    assert [e.findtext("atom:id", namespaces=NS) for e in entries] == [
        cancelled.current.identifier,
        real.current.identifier,
    ]
    assert entries[0].findtext("atom:title", namespaces=NS).startswith("[HỦY / CANCELLED]")
    link = entries[1].find("atom:link", NS)
    assert (
        link is not None and link.get("href") == "https://icc.example/public/warnings/flood-1.cap"
    )
    assert link.get("type") == "application/cap+xml"


def test_bad_warnings_are_refused_naming_each_field() -> None:
    bad = replace(
        FLOOD,
        vi=w.Text("", ""),
        expires=NOW - timedelta(minutes=1),
        areas=(
            w.Area("x", "", polygons=(((10.8, 106.7), (10.81, 106.71)),)),
            w.Area("y", "y", circles=(w.Circle(10.8, 106.7, 0),), wards=("Atlantis",)),
            w.Area("z", "z"),
        ),
    )
    with pytest.raises(InvalidInput) as err:
        issued(bad)
    assert {v.field for v in err.value.violations} == {
        "vi.event",
        "vi.headline",
        "expires",
        "areas[0].description",
        "areas[0].polygons[0]",
        "areas[1].circles[0].radius_km",
        "areas[1].wards[0]",
        "areas[2]",
    }
    ended = w.cancel(issued(FLOOD), now=NOW)
    with pytest.raises(IllegalTransition):
        w.update(ended, FLOOD, now=NOW, known_wards=WARDS)
    with pytest.raises(InvalidInput):
        w.update(issued(FLOOD), replace(FLOOD, exercise=True), now=NOW, known_wards=WARDS)
