"""Reasons: every code has its parameters, its English and its line in docs/codes.md;
stored reasons read back as they were written."""

import re
from enum import Enum
from pathlib import Path

from icc_kernel.reasons import (
    CODES,
    Reason,
    ReasonCode,
    english,
    from_json,
    listed,
    minutes,
    to_json,
)
from icc_kernel.vocabulary import Priority, UnitKind

DOC = Path(__file__).resolve().parents[3] / "docs" / "codes.md"
R = ReasonCode


def test_minutes() -> None:
    assert minutes(0) == "0 s"
    assert minutes(59) == "59 s"
    assert minutes(61) == "1 min 01 s"
    assert minutes(900) == "15 min 00 s"
    assert minutes(-5) == "0 s"


def test_parameters_are_text_enum_members_by_name_and_absent_ones_left_out() -> None:
    r = Reason.of(R.STATION_KEEPS, station="stations/S1", count=2, kind=UnitKind.ENGINE)
    assert r.params == (("count", "2"), ("kind", "ENGINE"), ("station", "stations/S1"))
    assert r == Reason.of(R.STATION_KEEPS, kind=UnitKind.ENGINE, count=2, station="stations/S1")
    assert Reason.of(R.CLOSED, resolution="").params == ()
    assert Reason.of(R.RELEASED_BY_DISPATCHER, text=None).get("text") == ""
    assert listed([UnitKind.ENGINE, UnitKind.LADDER]) == "ENGINE,LADDER"


def test_the_english_is_what_the_services_wrote_before_the_codes() -> None:
    assert Reason.of(R.ETA, eta_seconds=229, distance_meters=2712).english == (
        "ETA 3 min 49 s, 2.7 km"
    )
    assert Reason.of(
        R.STATION_LEFT_WITHOUT, kind="AMBULANCE_BLS", station="stations/H1"
    ).english == ("leaves no AMBULANCE_BLS at H1")
    assert Reason.of(R.NO_UNIT_AVAILABLE, kinds="ENGINE,LADDER").english == (
        "no available ENGINE/LADDER"
    )
    assigned = Reason.of(R.ASSIGNED_AUTOMATICALLY, units="E-1,L-2")
    moved = Reason.of(R.STATE_CHANGED, before="NEW", after="DISPATCHED")
    assert english([assigned, moved]) == "assigned automatically: E-1, L-2; NEW -> DISPATCHED"
    assert Reason.of(R.CLOSED).english == "closed"
    assert Reason.of(R.CLOSED, resolution="fire out").english == "closed: fire out"
    assert Reason.of(R.MERGED_INTO, incident="incidents/a").english == "merged into incidents/a"
    assert Reason(R.RELEASED_BY_DISPATCHER).english == "released by dispatcher"
    assert Reason.of(R.RELEASED_BY_DISPATCHER, text="fire out").english == "fire out"


def test_every_code_has_parameters_and_english() -> None:
    for code in ReasonCode:
        keys = [k.rstrip("?") for k in CODES[code]]
        sample = Reason.of(code, **{k: "1" for k in keys})
        assert sample.english, code
        assert len(set(keys)) == len(keys), code


def _documented() -> dict[str, tuple[int, tuple[str, ...]]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\| `REASON_CODE_(\w+)` \| (\d+) \|([^|]*)\|", line)
        if m:
            params = tuple(re.findall(r"`([a-z_]+\??)`", m.group(3)))
            rows[m.group(1)] = (int(m.group(2)), params)
    return rows


def test_docs_codes_md_lists_every_code_with_its_parameters() -> None:
    documented = _documented()
    assert documented == {code.name: (int(code), CODES[code]) for code in ReasonCode}


def test_stored_reasons_read_back_and_unknown_codes_are_left_out() -> None:
    said = (
        Reason.of(
            R.CREATED, type_code="FIRE.STRUCTURE", priority=Priority.P1, call_line="FIRE_114"
        ),
        Reason.of(R.TEXT, text="Cháy nhà ở hẻm"),
        Reason(R.EXERCISE),
    )
    assert from_json(to_json(said)) == said
    assert from_json("") == () and from_json("[]") == ()
    assert from_json('[[9999, {"x": "1"}], [101, {}]]') == (Reason(R.EXERCISE),)
    assert not isinstance(said[0].params[0][1], Enum)
