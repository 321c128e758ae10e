"""An incident's timeline: spans grouped by the step of its life, the screen's reads left
out unless asked for, the JSON the sink answers and `icc trace --sink` reads back.

The spans are shaped as `make run` records them (names, kinds, attributes, parents).
"""

from icc_tracesink.model import JsonValue, Span
from icc_tracesink.steps import Step
from icc_tracesink.timeline import Timeline, timeline

MS = 1_000_000
INCIDENT = "52a66be92af7ed98"


def _span(
    trace: str,
    span_id: str,
    parent: str | None,
    service: str,
    name: str,
    start_ms: int,
    *,
    kind: str = "INTERNAL",
    **attributes: JsonValue,
) -> Span:
    return Span(
        trace_id=trace * 32,
        span_id=span_id.rjust(16, "0"),
        parent_span_id=parent.rjust(16, "0") if parent else None,
        service=service,
        name=name,
        kind=kind,
        start_ns=start_ms * MS,
        end_ns=(start_ms + 2) * MS,
        attributes={"icc.incident.id": INCIDENT, **attributes},
    )


def _subject(subject: str) -> dict[str, JsonValue]:
    return {"messaging.destination.name": subject}


# The call, dispatch's choice under the intake's event, the reservation under the choice,
# the assignment it announces and the incident following it.
CREATE = [
    _span(
        "a",
        "1",
        None,
        "simulator",
        "CreateIncident",
        0,
        kind="CLIENT",
        **{"rpc.method": "CreateIncident"},
    ),
    _span(
        "a",
        "2",
        "1",
        "incidents",
        "CreateIncident",
        1,
        kind="SERVER",
        **{"rpc.method": "CreateIncident"},
    ),
    _span(
        "a",
        "3",
        "2",
        "incidents",
        "send icc.incident.created",
        2,
        **_subject("icc.incident.created"),
    ),
    _span(
        "a",
        "4",
        "2",
        "dispatch",
        "process icc.incident.created",
        3,
        **_subject("icc.incident.created"),
    ),
    _span("a", "5", "4", "dispatch", "dispatch incident", 4),
    _span("a", "6", "5", "dispatch", "reserve units", 5),
    _span(
        "a",
        "7",
        "6",
        "resources",
        "ReserveUnits",
        6,
        kind="SERVER",
        **{"rpc.method": "ReserveUnits"},
    ),
    _span(
        "a", "8", "7", "gateway", "apply icc.unit.status.*", 7, **_subject("icc.unit.status.U-1")
    ),
    _span(
        "a",
        "9",
        "6",
        "dispatch",
        "send icc.dispatch.assigned",
        8,
        **_subject("icc.dispatch.assigned"),
    ),
    _span(
        "a",
        "10",
        "9",
        "incidents",
        "process icc.dispatch.assigned",
        9,
        **_subject("icc.dispatch.assigned"),
    ),
    _span("a", "11", "10", "incidents", "send icc.incident.state_changed", 10),
]
# A unit's en-route report acknowledges; its on-scene report is the arrival.
EN_ROUTE = [
    _span(
        "b",
        "21",
        None,
        "simulator",
        "UpdateUnitStatus",
        100,
        kind="CLIENT",
        **{"icc.unit.status": "EN_ROUTE"},
    ),
    _span("b", "22", "21", "resources", "UpdateUnitStatus", 101, kind="SERVER"),
    _span("b", "23", "22", "incidents", "process icc.unit.status.*", 102),
    _span(
        "b",
        "24",
        "22",
        "dispatch",
        "send icc.dispatch.acknowledged",
        103,
        **_subject("icc.dispatch.acknowledged"),
    ),
]
ON_SCENE = [
    # Through the screen: the POST itself marks nothing; the call under it does.
    _span(
        "c",
        "31",
        None,
        "gateway",
        "POST /api/v1/units/{id}/status",
        200,
        kind="SERVER",
        **{"http.method": "POST"},
    ),
    _span(
        "c",
        "32",
        "31",
        "gateway",
        "UpdateUnitStatus",
        201,
        kind="CLIENT",
        **{"icc.unit.status": "ON_SCENE"},
    ),
    _span("c", "33", "32", "resources", "UpdateUnitStatus", 202, kind="SERVER"),
]
NOTE = [
    _span("d", "41", None, "incidents", "AddNote", 300, kind="SERVER", **{"rpc.method": "AddNote"})
]
SCREEN_READ = [
    _span(
        "e",
        "51",
        None,
        "gateway",
        "GET /api/v1/incidents/{id}",
        400,
        kind="SERVER",
        **{"http.method": "GET"},
    ),
    _span(
        "e",
        "52",
        "51",
        "incidents",
        "GetIncident",
        401,
        kind="SERVER",
        **{"rpc.method": "GetIncident"},
    ),
]
ALL = CREATE + EN_ROUTE + ON_SCENE + NOTE + SCREEN_READ


def _steps(t: Timeline) -> dict[str, str]:
    """By `trace letter:operation@service`."""
    return {f"{r.trace_id[0]}:{r.operation}@{r.service}": r.step.value for r in t.rows}


def test_each_span_belongs_to_the_step_of_the_incidents_life_it_serves() -> None:
    steps = _steps(timeline(INCIDENT, ALL))
    assert steps == {
        "a:CreateIncident@simulator": "intake",
        "a:CreateIncident@incidents": "intake",
        "a:send icc.incident.created@incidents": "intake",
        "a:process icc.incident.created@dispatch": "intake",
        "a:dispatch incident@dispatch": "decision",
        "a:reserve units@dispatch": "reservation",
        "a:ReserveUnits@resources": "reservation",
        "a:apply icc.unit.status.*@gateway": "reservation",
        "a:send icc.dispatch.assigned@dispatch": "reservation",
        "a:process icc.dispatch.assigned@incidents": "reservation",
        "a:send icc.incident.state_changed@incidents": "reservation",
        "b:UpdateUnitStatus@simulator": "acknowledgement",
        "b:UpdateUnitStatus@resources": "acknowledgement",
        "b:process icc.unit.status.*@incidents": "acknowledgement",
        "b:send icc.dispatch.acknowledged@dispatch": "acknowledgement",
        "c:POST /api/v1/units/{id}/status@gateway": "on_scene",
        "c:UpdateUnitStatus@gateway": "on_scene",
        "c:UpdateUnitStatus@resources": "on_scene",
        "d:AddNote@incidents": "other",
    }


def test_rows_come_by_step_in_the_incidents_order_and_keep_the_waterfall_within() -> None:
    t = timeline(INCIDENT, ALL)
    order = [r.step for r in t.rows]
    assert order == sorted(order, key=lambda s: s.order)
    intake = [r.operation for r in t.rows if r.step is Step.INTAKE]
    assert intake == [
        "CreateIncident",
        "CreateIncident",
        "send icc.incident.created",
        "process icc.incident.created",
    ]
    summary = {s.step: (s.start_ms, s.spans) for s in t.steps()}
    assert summary[Step.INTAKE] == (0.0, 4)
    assert summary[Step.ON_SCENE] == (200.0, 3)


def test_the_screens_reads_are_left_out_unless_asked_for() -> None:
    hidden = timeline(INCIDENT, ALL)
    assert hidden.reads_hidden == 1
    assert "GetIncident" not in {r.operation for r in hidden.rows}
    assert "e" * 32 not in hidden.traces
    shown = timeline(INCIDENT, ALL, reads=True)
    assert shown.reads_hidden == 0
    assert [r.operation for r in shown.rows if r.step is Step.READS] == [
        "GET /api/v1/incidents/{id}",
        "GetIncident",
    ]
    assert shown.rows[-1].step is Step.READS


def test_the_json_round_trips_for_icc_trace_over_http() -> None:
    t = timeline(INCIDENT, ALL)
    body = t.to_json()
    assert body["reads_hidden"] == 1
    assert [s["step"] for s in body["steps"]] == [
        "intake",
        "decision",
        "reservation",
        "acknowledgement",
        "on_scene",
        "other",
    ]
    assert body["steps"][0] == {
        "step": "intake",
        "label": "Intake",
        "start_ms": 0.0,
        "end_ms": 5.0,
        "spans": 4,
    }
    first = body["spans"][0]
    assert first == {
        "trace_id": "a" * 32,
        "service": "simulator",
        "operation": "CreateIncident",
        "start_ms": 0.0,
        "duration_ms": 2.0,
        "depth": 0,
        "error": None,
        "step": "intake",
    }
    assert Timeline.from_json(body) == t
