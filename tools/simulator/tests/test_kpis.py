"""KPIs from a hand-written event log: every figure is exact.

The run: speed 60 (a real second is a simulated minute), from t=1000 to t=1100 real.
  A  P1 cardiac arrest, Bến Thành: ambulance assigned +1 s, on scene +6 s (6 min: within
     8); fire assigned +2 s, on scene +12 s (12 min: late). Closed.
  D  a second caller about A (+3 s): merged; left out of the response times.
  B  P1 robbery, Chợ Lớn: police assigned +2 s, on scene +5 s; the ambulance never came.
  C  P3 snatch theft, Bến Thành: police assigned +5 s (5 min: waited), on scene +10 s.
  E  P2 vehicle fire, Chợ Lớn, 5 s before the end: dispatch queued it, no engine free.
  F  P1 structure fire, Tân Định, 2 s before the end: too early to judge the target.
"""

from pathlib import Path

import pytest

from icc_kernel.stats import percentile
from icc_kernel.vocabulary import Agency, Priority, UnitStatus
from icc_simulator.report import kpis
from icc_simulator.report.kpis import Spread, TargetShare
from icc_simulator.world.eventlog import (
    EventLog,
    IncidentCreated,
    IncidentEnded,
    IncidentQueued,
    RunInfo,
    UnitAssigned,
    UnitStatusChanged,
)

M, F, P = Agency.MEDICAL, Agency.FIRE, Agency.POLICE
S = UnitStatus


def created(
    t: float, name: str, code: str, prio: Priority, ward: str, *agencies: Agency, dup: bool = False
) -> IncidentCreated:
    return IncidentCreated(
        t, name, f"ev-{name}", dup, code, code.split(".")[0].lower(), prio, ward, agencies
    )


def the_log() -> EventLog:
    log = EventLog(RunInfo("test", 1, 60.0, 8, 10.0, t_start=1000.0, t_end=1100.0))
    for unit, agency, status in (
        ("u1", M, S.AVAILABLE),
        ("u2", F, S.AVAILABLE),
        ("u3", P, S.AVAILABLE),
        ("u4", P, S.AVAILABLE),
        ("u5", F, S.OUT_OF_SERVICE),
    ):
        log.add(UnitStatusChanged(1000.0, unit, agency, status))
    records = [
        created(1000, "A", "MEDICAL.CARDIAC_ARREST", Priority.P1, "Bến Thành", M, F),
        UnitAssigned(1001, "A", "u1", M),
        UnitStatusChanged(1001, "u1", M, S.DISPATCHED, "A"),
        UnitAssigned(1002, "A", "u2", F),
        UnitStatusChanged(1002, "u2", F, S.DISPATCHED, "A"),
        IncidentCreated(
            1003,
            "D",
            "ev-A",
            True,
            "MEDICAL.CARDIAC_ARREST",
            "medical",
            Priority.P1,
            "Bến Thành",
            (M, F),
        ),
        UnitStatusChanged(1006, "u1", M, S.ON_SCENE, "A"),
        created(1010, "B", "POLICE.ROBBERY", Priority.P1, "Chợ Lớn", P, M),
        UnitStatusChanged(1012, "u2", F, S.ON_SCENE, "A"),
        UnitAssigned(1012, "B", "u3", P),
        UnitStatusChanged(1012, "u3", P, S.DISPATCHED, "B"),
        UnitStatusChanged(1015, "u3", P, S.ON_SCENE, "B"),
        created(1020, "C", "POLICE.SNATCH_THEFT", Priority.P3, "Bến Thành", P),
        IncidentEnded(1020, "D", "merged", "merged into A"),
        UnitAssigned(1025, "C", "u4", P),
        UnitStatusChanged(1025, "u4", P, S.DISPATCHED, "C"),
        UnitStatusChanged(1030, "u4", P, S.ON_SCENE, "C"),
        UnitStatusChanged(1041, "u1", M, S.AVAILABLE),
        UnitStatusChanged(1042, "u2", F, S.AVAILABLE),
        IncidentEnded(1050, "A", "closed"),
        UnitStatusChanged(1052, "u3", P, S.AVAILABLE),
        created(1095, "E", "FIRE.VEHICLE", Priority.P2, "Chợ Lớn", F, P),
        IncidentQueued(1096, "E", 2, "engine: no available ENGINE (2 missing)"),
        created(1098, "F", "FIRE.STRUCTURE", Priority.P1, "Tân Định", F),
    ]
    for r in records:
        log.add(r)
    return log


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 11))
    assert percentile(values, 50) == 5
    assert percentile(values, 90) == 9
    assert percentile(values, 99) == 10
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def test_counts() -> None:
    k = kpis.compute(the_log())
    assert k.incidents == 5
    assert k.duplicates == 1
    assert k.ended == {"closed": 1, "merged": 1}
    assert k.still_open == 4
    assert k.duration_s == 6000.0
    assert k.by_family == {"fire": 2, "medical": 1, "police": 2}


def test_response_times_by_agency_in_simulated_seconds() -> None:
    k = kpis.compute(the_log())
    assert k.to_dispatch["agency"] == {
        "FIRE": Spread(1, 120.0, 120.0, 120.0, never=2),
        "MEDICAL": Spread(1, 60.0, 60.0, 60.0, never=1),
        "POLICE": Spread(2, 120.0, 300.0, 300.0, never=1),
    }
    assert k.to_on_scene["agency"] == {
        "FIRE": Spread(1, 720.0, 720.0, 720.0, never=2),
        "MEDICAL": Spread(1, 360.0, 360.0, 360.0, never=1),
        "POLICE": Spread(2, 300.0, 600.0, 600.0, never=1),
    }


def test_response_times_by_priority_and_ward() -> None:
    k = kpis.compute(the_log())
    assert k.to_dispatch["priority"] == {
        "P1": Spread(2, 60.0, 120.0, 120.0, never=1),
        "P2": Spread(0, None, None, None, never=1),
        "P3": Spread(1, 300.0, 300.0, 300.0),
        "P4": Spread(0, None, None, None),
    }
    assert k.to_on_scene["priority"]["P1"] == Spread(2, 300.0, 360.0, 360.0, never=1)
    assert k.to_dispatch["ward"] == {
        "Bến Thành": Spread(2, 60.0, 300.0, 300.0),
        "Chợ Lớn": Spread(1, 120.0, 120.0, 120.0, never=1),
        "Tân Định": Spread(0, None, None, None, never=1),
    }


def test_p1_targets() -> None:
    k = kpis.compute(the_log())
    assert k.p1_targets == {
        "MEDICAL": TargetShare(480.0, reached=1, missed=1, censored=0),
        "FIRE": TargetShare(600.0, reached=0, missed=1, censored=1),
        "POLICE": TargetShare(600.0, reached=1, missed=0, censored=0),
    }
    assert k.p1_targets["MEDICAL"].share == 0.5
    assert k.p1_targets["FIRE"].share == 0.0


def test_utilisation_from_status_changes() -> None:
    u = kpis.compute(the_log()).utilisation
    assert u.units == 5
    # Busy 40 + 40 + 40 + 75 real seconds of 4 × 100 in service (u5 is out of service).
    assert u.overall == pytest.approx(195 / 400)
    assert u.by_agency == {"FIRE": 0.4, "MEDICAL": 0.4, "POLICE": pytest.approx(115 / 200)}
    assert (u.peak_busy, u.peak_time) == (4, 1025.0)


def test_incidents_that_waited_for_units() -> None:
    waited = kpis.compute(the_log()).waited
    assert [(w.incident, w.priority, w.waited_s, w.why) for w in waited] == [
        ("E", Priority.P2, None, "dispatch: engine: no available ENGINE (2 missing)"),
        ("C", Priority.P3, 300.0, "first unit assigned late"),
    ]


def test_the_log_round_trips_through_json_lines(tmp_path: Path) -> None:
    log = the_log()
    path = tmp_path / "events.jsonl"
    log.write_jsonl(path)
    again = EventLog.read_jsonl(path)
    assert again == log
    assert kpis.compute(again) == kpis.compute(log)


def test_json_report_is_in_simulated_seconds() -> None:
    data = kpis.compute(the_log()).to_json()
    assert data["call_to_on_scene"]["agency"]["MEDICAL"]["p50_s"] == 360.0
    assert data["p1_targets"]["MEDICAL"]["share"] == 0.5
    assert data["waited"][0]["incident"] == "E"
