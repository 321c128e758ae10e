"""Dispatch's use cases through the service facade, with fakes for the resources service
and the clock (a real SQLite file holds the records; no bus, no network).

In the style of cosmicpython's `tests/unit/test_handlers.py`: each test drives one use case
and checks what it decided, what it asked the resources service for, and what it announced.
"""

from collections import Counter
from dataclasses import replace

import pytest

from icc.dispatch.v1 import events_pb2
from icc_dispatch.domain.errors import InvalidInput, NotFound, UnitsUnavailable
from icc_dispatch.domain.hospitals import REACH_M, HospitalView
from icc_dispatch.domain.model import FleetUnit, IncidentPhase, Point
from icc_kernel.vocabulary import Agency, Diversion, Priority, UnitKind, UnitStatus

from .desk import DISPATCHER, SCENE, Desk, S, desk, engine, incident

__all__ = ["desk"]  # the fixture, imported for the tests below


class TestIntake:
    async def test_a_quiet_dispatch_proposes_and_reserves_a_new_p1_at_once(
        self, desk: Desk
    ) -> None:
        await desk.service.on_incident("evt-1", incident(1))
        await desk.service.drain()  # waits for the reservation under way
        assert desk.resources.reserved == [["E1"]]
        assert await desk.units_of("inc-1") == {"E1": S.ASSIGNED}
        assert await desk.events() == ["icc.dispatch.assigned"]

    async def test_the_quiet_path_costs_two_commits(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        # Intake with its proposal, then the confirmation (the path the bench's dispatch
        # table counts commits on); then the loop's two reads of the queue.
        assert desk.counts.statements == [
            *("BEGIN", "SELECT incidents", "SELECT incidents"),
            *("BEGIN IMMEDIATE", "INSERT inbox", "SELECT assignments"),
            *("INSERT incidents", "INSERT assignments"),
            *("BEGIN", "SELECT incidents"),
            *("BEGIN", "SELECT incidents"),
            *("BEGIN IMMEDIATE", "SELECT assignments", "UPDATE assignments", "INSERT outbox"),
            *("BEGIN", "SELECT incidents"),
        ]
        assert desk.counts.writes == 2

    async def test_the_same_event_twice_is_taken_in_once(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        await desk.take_in("evt-1", incident(1))
        assert desk.resources.reserved == [["E1"]]
        assert await desk.events() == ["icc.dispatch.assigned"]

    async def test_news_that_changes_nothing_dispatch_plans_by_writes_nothing(
        self, desk: Desk
    ) -> None:
        await desk.take_in("evt-1", incident(1))
        writes = desk.counts.writes
        # The incident recording its assignment: a newer version, the same plan.
        await desk.service.on_incident("evt-2", incident(1, version=2))
        assert desk.counts.writes == writes

    async def test_a_p3_gets_a_recommendation_and_waits_for_a_dispatcher(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1, Priority.P3))
        assert desk.resources.reserved == []
        assert await desk.units_of("inc-1") == {}
        assert await desk.events() == ["icc.dispatch.recommended"]

    async def test_an_ended_incident_frees_its_units(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        await desk.service.on_incident("evt-2", incident(1, version=3, phase=IncidentPhase.ENDED))
        assert desk.resources.released == [(["E1"], "incident ended")]
        assert await desk.units_of("inc-1") == {}
        assert await desk.events() == ["icc.dispatch.assigned", "icc.dispatch.released"]

    async def test_a_unit_on_its_way_acknowledges_and_one_gone_is_replaced(
        self, desk: Desk
    ) -> None:
        await desk.take_in("evt-1", incident(1))
        await desk.service.on_unit_status("u-1", "E1", UnitStatus.EN_ROUTE, "inc-1", 200)
        assert await desk.units_of("inc-1") == {"E1": S.ACKNOWLEDGED}
        # Out of service on the way: the role is open again and another unit fills it.
        await desk.service.on_unit_status("u-2", "E1", UnitStatus.OUT_OF_SERVICE, None, 201)
        await desk.service.drain()
        assert await desk.units_of("inc-1") == {"E2": S.ASSIGNED}
        assert await desk.events() == [
            "icc.dispatch.assigned",
            "icc.dispatch.acknowledged",
            "icc.dispatch.released",
            "icc.dispatch.assigned",
        ]


class TestAssign:
    async def _awaiting_dispatcher(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1, Priority.P3))

    async def test_assigns_the_units_a_dispatcher_names(self, desk: Desk) -> None:
        await self._awaiting_dispatcher(desk)
        done = await desk.service.assign("inc-1", ["E2"], "req-1", "", DISPATCHER)
        assert [(a.unit_id, a.state, a.assigned_by) for a in done] == [
            ("E2", S.ASSIGNED, DISPATCHER)
        ]
        # The same request again: the same assignments, nothing reserved twice.
        again = await desk.service.assign("inc-1", ["E2"], "req-1", "", DISPATCHER)
        assert [a.id for a in again] == [a.id for a in done]
        assert desk.resources.reserved == [["E2"]]
        assert await desk.events() == ["icc.dispatch.recommended", "icc.dispatch.assigned"]

    async def test_all_or_nothing_when_one_unit_is_taken(self, desk: Desk) -> None:
        await self._awaiting_dispatcher(desk)
        desk.resources.taken.add("E2")
        with pytest.raises(UnitsUnavailable) as lost:
            await desk.service.assign("inc-1", ["E1", "E2"], "req-1", "", DISPATCHER)
        assert "E2" in str(lost.value)
        assert [sorted(r) for r in desk.resources.reserved] == [["E1", "E2"]]
        assert desk.resources.refreshed == ["E2"]
        assert await desk.units_of("inc-1") == {}  # neither unit
        assert not desk.fleet.held
        assert desk.fleet.get("E2") is not None and not desk.fleet.get("E2").available  # type: ignore[union-attr]

    async def test_bad_requests_name_the_field(self, desk: Desk) -> None:
        await self._awaiting_dispatcher(desk)
        with pytest.raises(InvalidInput) as bad:
            await desk.service.assign("inc-1", ["E1", "E1"], "", "", DISPATCHER)
        assert [v.field for v in bad.value.violations] == ["units"]
        with pytest.raises(NotFound):
            await desk.service.assign("inc-1", ["nope"], "", "", DISPATCHER)
        with pytest.raises(NotFound):
            await desk.service.assign("inc-404", ["E1"], "", "", DISPATCHER)
        assert desk.resources.reserved == []

    async def test_a_unit_not_recommended_needs_a_reason(self, desk: Desk) -> None:
        await self._awaiting_dispatcher(desk)
        desk.fleet.put(replace(engine("P9", 0.5), kind=UnitKind.PATROL_CAR, agency=Agency.POLICE))
        with pytest.raises(InvalidInput) as bad:
            await desk.service.assign("inc-1", ["E1", "P9"], "", "", DISPATCHER)
        assert [v.field for v in bad.value.violations] == ["override_reason"]
        done = await desk.service.assign("inc-1", ["E1", "P9"], "", "hold the crowd", DISPATCHER)
        assert {a.unit_id: a.override_reason for a in done} == {"E1": "", "P9": "hold the crowd"}


class TestReservationRace:
    async def test_a_lost_reservation_is_retried_with_the_next_best(self, desk: Desk) -> None:
        desk.resources.taken.add("E1")  # taken elsewhere; this view has not heard yet
        await desk.take_in("evt-1", incident(1))
        assert desk.resources.reserved == [["E1"], ["E2"]]
        assert desk.resources.refreshed == ["E1"]
        assert await desk.units_of("inc-1") == {"E2": S.ASSIGNED}
        assert await desk.events() == ["icc.dispatch.assigned"]


class TestRelease:
    async def test_a_dispatcher_releases_an_incidents_units(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        released = await desk.service.release("inc-1", [], "fire out", DISPATCHER)
        assert [(a.unit_id, a.state, a.release_reason) for a in released] == [
            ("E1", S.RELEASED, "fire out")
        ]
        assert desk.resources.released == [(["E1"], "fire out")]
        assert "E1" not in desk.resources.holder
        assert await desk.events() == ["icc.dispatch.assigned", "icc.dispatch.released"]

    async def test_only_the_incidents_units_can_be_released(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        with pytest.raises(InvalidInput) as bad:
            await desk.service.release("inc-1", ["E2"], "", DISPATCHER)
        assert [v.field for v in bad.value.violations] == ["units"]
        assert desk.resources.released == []


class TestEscalation:
    async def test_a_unit_that_does_not_acknowledge_in_time_is_replaced(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        desk.clock.advance(59)
        assert await desk.service.escalate_overdue() == 0
        desk.clock.advance(2)
        assert await desk.service.escalate_overdue() == 1
        assert desk.resources.released == [
            (["E1"], "not acknowledged within 60 s; the next best unit is sent")
        ]
        await desk.service.drain()
        # The next best, never the same unit again.
        assert await desk.units_of("inc-1") == {"E2": S.ASSIGNED}
        assert await desk.events() == [
            "icc.dispatch.assigned",
            "icc.dispatch.escalated",
            "icc.dispatch.assigned",
        ]


class TestPriorityQueue:
    async def test_freed_units_go_to_the_most_urgent_waiting_incident_first(
        self, desk: Desk
    ) -> None:
        units = [desk.fleet.get(u) for u in ("E1", "E2", "E3")]
        for u in units:
            assert u is not None
            desk.fleet.put(replace(u, status=UnitStatus.ON_SCENE, version=2))
        # A backlog, oldest first: P4, then P2, then P1; no engine is free.
        for n, priority in enumerate((Priority.P4, Priority.P2, Priority.P1)):
            await desk.service.on_incident(f"evt-{n}", incident(n, priority, auto=True))
        await desk.service.drain()
        assert desk.resources.reserved == []
        holders = []
        for u in units:
            assert u is not None
            desk.free(replace(u, version=3))
            await desk.service.drain()
            holders.append(desk.resources.holder[u.id])
        assert holders == ["inc-2", "inc-1", "inc-0"]


def ambulance(unit_id: str, km_north: float) -> FleetUnit:
    return replace(engine(unit_id, km_north), agency=Agency.MEDICAL, kind=UnitKind.AMBULANCE_ALS)


def hospital(
    hospital_id: str, km_north: float, diversion: Diversion = Diversion.OPEN, *capabilities: str
) -> HospitalView:
    return HospitalView(
        id=hospital_id,
        location=Point(SCENE.lat + km_north / 111.0, SCENE.lon),
        capabilities=frozenset(capabilities),
        diversion=diversion,
    )


class TestDestinationHospital:
    """An ambulance's assignment records where it takes its patient: the nearest hospital
    not diverting the patient (`domain.hospitals`)."""

    async def destination(self, desk: Desk, type_code: str) -> dict[str, str]:
        desk.fleet.put(ambulance("A1", 1.0))
        await desk.take_in("evt-1", replace(incident(1), type_code=type_code))
        status = await desk.service.status("inc-1")
        return {a.unit_id: a.destination_hospital for a in status.assignments if a.active}

    async def test_the_nearest_open_hospital(self, desk: Desk) -> None:
        desk.resources.hospitals = [hospital("far", 6.0), hospital("near", 2.0)]
        assert await self.destination(desk, "MEDICAL.HEAT_ILLNESS") == {"A1": "near"}

    async def test_a_hospital_on_full_diversion_is_passed_over(self, desk: Desk) -> None:
        desk.resources.hospitals = [
            hospital("far", 6.0),
            hospital("near", 2.0, Diversion.FULL),
        ]
        assert await self.destination(desk, "MEDICAL.HEAT_ILLNESS") == {"A1": "far"}

    async def test_partial_diversion_turns_away_only_a_specialty_patient(self, desk: Desk) -> None:
        desk.resources.hospitals = [
            hospital("far", 6.0, Diversion.OPEN, "STROKE_CENTER"),
            hospital("near", 2.0, Diversion.PARTIAL, "STROKE_CENTER"),
        ]
        assert await self.destination(desk, "MEDICAL.STROKE") == {"A1": "far"}

    async def test_partial_diversion_still_takes_a_general_patient(self, desk: Desk) -> None:
        desk.resources.hospitals = [
            hospital("far", 6.0),
            hospital("near", 2.0, Diversion.PARTIAL),
        ]
        assert await self.destination(desk, "MEDICAL.HEAT_ILLNESS") == {"A1": "near"}

    async def test_a_diverting_hospital_when_no_other_is_within_reach(self, desk: Desk) -> None:
        beyond = REACH_M / 1000 + 5
        desk.resources.hospitals = [
            hospital("beyond-reach", beyond),
            hospital("near", 2.0, Diversion.FULL),
        ]
        assert await self.destination(desk, "MEDICAL.HEAT_ILLNESS") == {"A1": "near"}

    async def test_the_ambulance_goes_without_a_destination_when_hospitals_cannot_be_read(
        self, desk: Desk
    ) -> None:
        desk.resources.hospitals_down = True
        assert await self.destination(desk, "MEDICAL.HEAT_ILLNESS") == {"A1": ""}
        assert await desk.units_of("inc-1") == {"A1": S.ASSIGNED}

    async def test_a_unit_that_transports_nobody_gets_no_destination(self, desk: Desk) -> None:
        desk.resources.hospitals = [hospital("near", 2.0)]
        await desk.take_in("evt-1", incident(1))
        status = await desk.service.status("inc-1")
        assert [(a.unit_id, a.destination_hospital) for a in status.assignments] == [("E1", "")]

    async def test_a_mass_casualtys_patients_are_spread_three_a_hospital(self, desk: Desk) -> None:
        desk.resources.hospitals = [
            hospital(name, km, Diversion.OPEN, "TRAUMA_CENTER")
            for name, km in (("near", 1.0), ("mid", 2.0), ("far", 3.0))
        ]
        for n in range(6):  # the plan's six ambulances
            desk.fleet.put(ambulance(f"A{n}", 0.5 + n / 10))
        await desk.take_in("evt-1", replace(incident(1), type_code="MEDICAL.MASS_CASUALTY"))
        status = await desk.service.status("inc-1")
        sent = Counter(a.destination_hospital for a in status.assignments if a.unit_id[0] == "A")
        assert sent == {"near": 3, "mid": 3}
        # Another ambulance for the same incident, later: the third hospital.
        desk.fleet.put(ambulance("A9", 0.4))
        await desk.service.assign("inc-1", ["A9"], "r-9", "one more", DISPATCHER)
        status = await desk.service.status("inc-1")
        (later,) = [a for a in status.assignments if a.unit_id == "A9"]
        assert later.destination_hospital == "far"

    async def test_the_destination_is_announced_with_the_assignment(self, desk: Desk) -> None:
        desk.resources.hospitals = [hospital("near", 2.0)]
        await self.destination(desk, "MEDICAL.HEAT_ILLNESS")
        (payload,) = await desk.payloads("icc.dispatch.assigned")
        event = events_pb2.UnitsAssigned.FromString(payload)
        assert [a.destination_hospital for a in event.assignments] == ["hospitals/near"]
