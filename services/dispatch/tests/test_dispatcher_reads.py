"""What a dispatcher (and a unit) reads of dispatch: a decision waiting, units waiting,
why an assignment ended, the trip it was chosen for, the cautions passed on, and every
available unit ranked by ETA."""

from dataclasses import replace
from datetime import timedelta

from icc.dispatch.v1 import events_pb2
from icc_dispatch.domain.model import Caution, CautionKind, Point
from icc_kernel.actors import Actor
from icc_kernel.reasons import Reason, ReasonCode
from icc_kernel.vocabulary import Agency, EtaSource, Priority, UnitKind

from .desk import DISPATCHER, SCENE, T0, Desk, desk, engine, incident

__all__ = ["desk"]  # the fixture, imported for the tests below

R = ReasonCode
GAS = Caution(
    name="cautions/c1",
    kind=CautionKind.HAZARDOUS_MATERIALS,
    text="gas cylinders stored on the ground floor",
    point=Point(SCENE.lat, SCENE.lon),
    address="12 Lê Lợi",
    ward="Phường Bến Thành",
    radius_m=30.0,
    valid_until=T0 + timedelta(days=300),
    created_by=Actor("supervisor-2", Agency.FIRE, "supervisor"),
    create_time=T0 - timedelta(days=65),
)


async def test_a_p3_waits_for_a_decision_not_for_units(desk: Desk) -> None:
    await desk.take_in("evt-1", incident(1, Priority.P3))
    status = await desk.service.status("inc-1")
    assert status.awaiting_decision
    assert status.awaiting_since == T0 + timedelta(seconds=1)  # the incident's creation
    assert [s.reason for s in status.shortfalls] == [Reason(R.AWAITING_DISPATCHER)]
    (told,) = [
        events_pb2.UnitsRecommended.FromString(p)
        for p in await desk.payloads("icc.dispatch.recommended")
    ]
    assert told.awaiting_decision
    assert told.awaiting_since.ToDatetime().replace(tzinfo=T0.tzinfo) == status.awaiting_since
    # Decided: nothing waits any more.
    await desk.service.assign("inc-1", ["E1"], "req-1", "", DISPATCHER)
    decided = await desk.service.status("inc-1")
    assert not decided.awaiting_decision and decided.awaiting_since is None
    assert decided.shortfalls == []


async def test_a_p1_short_of_units_waits_for_them(desk: Desk) -> None:
    for unit_id in ("E1", "E2", "E3"):
        desk.fleet.put(replace(desk.fleet.units[unit_id], incident_id="elsewhere", version=9))
    await desk.take_in("evt-1", incident(1))
    status = await desk.service.status("inc-1")
    assert not status.awaiting_decision and status.waiting
    assert [s.reason for s in status.shortfalls] == [
        Reason.of(R.WAITING_FOR_UNITS, kinds="ENGINE,WATER_TENDER")
    ]
    (told,) = [
        events_pb2.UnitsRecommended.FromString(p)
        for p in await desk.payloads("icc.dispatch.recommended")
    ]
    assert not told.awaiting_decision and not told.HasField("awaiting_since")


async def test_an_assignment_keeps_its_trip_and_says_why_it_ended(desk: Desk) -> None:
    await desk.take_in("evt-1", incident(1))
    (a,) = (await desk.service.status("inc-1")).assignments
    assert a.eta_s > 0 and a.distance_m > 900  # E1 is a kilometre away, by road more
    assert a.eta_source is EtaSource.TRAVEL_MODEL
    # Not acknowledged in time: released with a code, its role filled again.
    desk.clock.advance(61)
    assert await desk.service.escalate_overdue() == 1
    await desk.service.drain()
    status = await desk.service.status("inc-1")
    gone = next(x for x in status.assignments if x.unit_id == "E1")
    assert gone.release == Reason.of(R.NOT_ACKNOWLEDGED_IN_TIME, seconds=60)
    assert gone.release_reason == "not acknowledged within 60 s; the next best unit is sent"
    (escalated,) = [
        events_pb2.AssignmentEscalated.FromString(p)
        for p in await desk.payloads("icc.dispatch.escalated")
    ]
    assert escalated.coded_reason.code == R.NOT_ACKNOWLEDGED_IN_TIME
    assert dict(escalated.coded_reason.params) == {"seconds": "60"}
    assert escalated.assignment.coded_release_reason == escalated.coded_reason
    assert escalated.assignment.distance_meters == gone.distance_m
    # A dispatcher's release keeps their words.
    released = await desk.service.release("inc-1", [], "fire out", DISPATCHER)
    assert [x.release for x in released] == [Reason.of(R.RELEASED_BY_DISPATCHER, text="fire out")]
    assert desk.resources.released[-1][1] == "fire out"


async def test_a_released_p3_role_waits_for_a_decision_again_from_then(desk: Desk) -> None:
    await desk.take_in("evt-1", incident(1, Priority.P3))
    await desk.service.assign("inc-1", ["E1"], "req-1", "", DISPATCHER)
    desk.clock.advance(61)
    await desk.service.escalate_overdue()
    status = await desk.service.status("inc-1")
    assert status.awaiting_decision
    assert status.awaiting_since == desk.clock.now


async def test_the_units_assigned_receive_the_incidents_cautions(desk: Desk) -> None:
    view = replace(incident(1), cautions=(GAS,))
    await desk.take_in("evt-1", view)
    (assigned,) = [
        events_pb2.UnitsAssigned.FromString(p) for p in await desk.payloads("icc.dispatch.assigned")
    ]
    (c,) = assigned.cautions
    assert (c.name, c.kind, c.text, c.radius_m) == (
        "cautions/c1",
        int(CautionKind.HAZARDOUS_MATERIALS),
        "gas cylinders stored on the ground floor",
        30.0,
    )
    assert (c.location.address, c.location.ward) == ("12 Lê Lợi", "Phường Bến Thành")
    assert c.created_by.user == "supervisor-2" and c.valid_until.seconds > 0
    # Kept with the case (read back from its row), and shown with its status.
    assert (await desk.service.status("inc-1")).incident.cautions == (GAS,)
    # A caution added later is news: stored, though nothing else changed.
    later = replace(GAS, name="cautions/c2", valid_until=None, create_time=None)
    await desk.service.on_incident("evt-2", replace(view, version=2, cautions=(GAS, later)))
    assert (await desk.service.status("inc-1")).incident.cautions == (GAS, later)


async def test_every_available_unit_ranked_by_eta(desk: Desk) -> None:
    await desk.take_in("evt-1", incident(1, Priority.P3))
    desk.fleet.put(
        replace(engine("P9", 0.5), kind=UnitKind.PATROL_CAR, agency=Agency.POLICE, version=2)
    )
    ranked = await desk.service.rank_available("inc-1", [], [], 0)
    assert [c.unit.id for c in ranked.candidates] == ["P9", "E1", "E2", "E3"]
    assert ranked.eta_source is EtaSource.TRAVEL_MODEL
    assert ranked.mutual_aid_eta_s == 15 * 60
    assert [c.role for c in ranked.candidates] == ["additional", "engine", "engine", "engine"]
    only = await desk.service.rank_available("inc-1", [UnitKind.ENGINE], [], 2)
    assert [c.unit.id for c in only.candidates] == ["E1", "E2"]
    police = await desk.service.rank_available("inc-1", [], [Agency.POLICE], 0)
    assert [c.unit.id for c in police.candidates] == ["P9"]
