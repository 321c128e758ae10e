"""Dispatch end to end: real nats-server, real gRPC servers of all three services."""

import asyncio
import random
import time
from datetime import timedelta
from pathlib import Path

import grpc
import nats
import pytest

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc_city.geo import Point, distance_m
from icc_dispatch.domain.hospitals import REACH_M
from icc_dispatch.domain.model import Priority
from icc_dispatch.domain.ranking import COVERAGE_PENALTY_S, KIND_PENALTY_S
from icc_rpc.errors import field_violations
from icc_testing import NatsServer, Pki
from tests.conftest import CENTRE, City, start_city, stop_city, stream_payloads


async def wait_status(
    city: City, incident: str, state: int, timeout_s: float = 10
) -> dispatch_pb2.DispatchStatus:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            reply = await city.dispatch.GetDispatchStatus(
                dpb.GetDispatchStatusRequest(incident=incident), timeout=5
            )
            last = reply.status
            if last.state == state:
                return last
        except Exception:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{incident} never reached state {state}; last: {last}")


async def recommend(
    city: City, incident: str, timeout_s: float = 10
) -> dispatch_pb2.Recommendation:
    """Once dispatch has heard of the incident (its event may still be on the way)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            reply = await city.dispatch.RecommendUnits(
                dpb.RecommendUnitsRequest(incident=incident), timeout=5
            )
            return reply.recommendation
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def test_p1_structure_fire_gets_its_plan_nearest_first(city: City) -> None:
    incident = await city.create("FIRE.STRUCTURE")
    assert incident.priority == common_pb2.PRIORITY_P1
    status = await wait_status(city, incident.name, dispatch_pb2.DISPATCH_STATE_COMPLETE)

    roles = sorted(a.role for a in status.assignments)
    planned = sorted(i.role for i in status.plan.items for _ in range(i.count))
    assert roles == planned
    kinds = sorted(resource_pb2.UnitKind.Name(a.kind) for a in status.assignments)
    assert kinds.count("UNIT_KIND_ENGINE") == 2
    assert kinds.count("UNIT_KIND_LADDER") == 1
    assert {common_pb2.Agency.Name(a.agency) for a in status.assignments} == {
        "AGENCY_FIRE",
        "AGENCY_MEDICAL",
        "AGENCY_POLICE",
    }
    assert all(a.state == common_pb2.ASSIGNMENT_STATE_ASSIGNED for a in status.assignments)
    assert all(not a.override for a in status.assignments)

    # Nearest first: no unit left behind was clearly closer than the one sent.
    rec = await recommend(city, incident.name)
    assert rec.candidates == []  # the plan is met: nothing more to recommend
    # Ask what the plan would get now, with these units taken, for one more engine.
    units = await city.available(resource_pb2.UNIT_KIND_ENGINE)
    assigned_engines = {
        a.unit for a in status.assignments if a.kind == resource_pb2.UNIT_KIND_ENGINE
    }
    assert assigned_engines and not assigned_engines & {u.name for u in units}
    slowest_sent = max(
        a.eta_seconds for a in status.assignments if a.kind == resource_pb2.UNIT_KIND_ENGINE
    )
    second = await city.create("FIRE.STRUCTURE", request_id="second-fire", priority=3)
    rec = await recommend(city, second.name)
    engines_left = [c for c in rec.candidates if c.kind == resource_pb2.UNIT_KIND_ENGINE]
    assert engines_left
    assert slowest_sent <= engines_left[0].eta_seconds + COVERAGE_PENALTY_S + KIND_PENALTY_S
    for c in rec.candidates:
        assert c.reasons and c.eta_seconds > 0 and c.distance_meters > 0

    # The incident itself shows the units, and has moved to DISPATCHED.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = (
            await city.incidents.GetIncident(ipb.GetIncidentRequest(name=incident.name), timeout=5)
        ).incident
        if len(got.assignments) == len(status.assignments):
            break
        await asyncio.sleep(0.05)
    assert got.state == incident_pb2.INCIDENT_STATE_DISPATCHED
    assert {a.unit for a in got.assignments} == {a.unit for a in status.assignments}
    assert got.HasField("first_dispatch_time")


async def test_unacknowledged_assignment_is_escalated_to_the_next_unit(
    pki: Pki, nats_server: NatsServer, tmp_path: Path
) -> None:
    city, services, channels = await start_city(
        nats_server, tmp_path, pki, ack_within=timedelta(seconds=1)
    )
    try:
        incident = await city.create("MEDICAL.CARDIAC_ARREST")
        status = await wait_status(city, incident.name, dispatch_pb2.DISPATCH_STATE_COMPLETE)
        first = {a.role: a for a in status.assignments}
        assert set(first) == {i.role for i in status.plan.items}
        # The motorbike responder acknowledges at once; the ambulance crew does not.
        moto = next(
            a for a in status.assignments if a.kind == resource_pb2.UNIT_KIND_MOTORBIKE_RESPONDER
        )
        ambulance = next(a for a in status.assignments if a is not moto)
        acked = await city.dispatch.AcknowledgeAssignment(
            dpb.AcknowledgeAssignmentRequest(name=moto.name), timeout=5
        )
        assert acked.assignment.state == common_pb2.ASSIGNMENT_STATE_ACKNOWLEDGED

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status = (
                await city.dispatch.GetDispatchStatus(
                    dpb.GetDispatchStatusRequest(incident=incident.name), timeout=5
                )
            ).status
            replaced = [
                a
                for a in status.assignments
                if a.role == ambulance.role
                and a.name != ambulance.name
                and a.state == common_pb2.ASSIGNMENT_STATE_ASSIGNED
            ]
            if replaced:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"never escalated: {status}")
        old = next(a for a in status.assignments if a.name == ambulance.name)
        assert old.state == common_pb2.ASSIGNMENT_STATE_RELEASED
        assert "not acknowledged" in old.release_reason
        assert replaced[0].unit != ambulance.unit
        assert replaced[0].kind in (resource_pb2.UNIT_KIND_AMBULANCE_ALS,)
        # The acknowledged unit stays.
        still = next(a for a in status.assignments if a.name == moto.name)
        assert still.state == common_pb2.ASSIGNMENT_STATE_ACKNOWLEDGED
        # The dispatcher is told, and the escalated unit is free again at resources.
        escalated = await stream_payloads(city.nats.url, "ICC_DISPATCH", "icc.dispatch.escalated")
        told = [dispatch_events.AssignmentEscalated.FromString(d) for d in escalated]
        assert ambulance.name in {e.assignment.name for e in told}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            unit = (
                await city.resources.GetUnit(rpb.GetUnitRequest(name=ambulance.unit), timeout=5)
            ).unit
            if unit.status == resource_pb2.UNIT_STATUS_AVAILABLE:
                break
            await asyncio.sleep(0.1)
        assert unit.status == resource_pb2.UNIT_STATUS_AVAILABLE and not unit.incident
    finally:
        await stop_city(services, channels)


async def test_a_malformed_event_goes_to_the_dlq_and_dispatch_goes_on(city: City) -> None:
    nc = await nats.connect(city.nats.url)
    try:
        js = nc.jetstream()
        dlq = await js.subscribe("icc.dlq.dispatch-incidents", ordered_consumer=True)
        await js.publish(
            "icc.incident.created",
            b"\x08\xff\xff not a protobuf",
            headers={
                "Nats-Msg-Id": "bad-1",
                "Icc-Event-Type": "icc.incident.v1.IncidentCreated",
            },
        )
        dead = await dlq.next_msg(timeout=15)
        assert dead.headers is not None
        assert "cannot decode" in dead.headers["Icc-Dlq-Reason"]
        assert dead.headers["Icc-Dlq-Subject"] == "icc.incident.created"
    finally:
        await nc.close()
    # The consumer went on: the next incident is dispatched.
    incident = await city.create("POLICE.ROBBERY")
    await wait_status(city, incident.name, dispatch_pb2.DISPATCH_STATE_COMPLETE)


async def set_in_service(city: City, kinds: set[int], keep: int) -> list[str]:
    """Puts every unit of `kinds` out of service, then `keep` of them back; returns those."""
    units = (await city.resources.ListUnits(rpb.ListUnitsRequest(page_size=5000), timeout=10)).units
    chosen = [u for u in units if u.kind in kinds]
    for u in chosen:
        await city.resources.UpdateUnitStatus(
            rpb.UpdateUnitStatusRequest(
                name=u.name, status=resource_pb2.UNIT_STATUS_OUT_OF_SERVICE, reason="drill"
            ),
            timeout=5,
        )
    return [u.name for u in chosen[:keep]]


async def back_in_service(city: City, names: list[str]) -> None:
    for name in names:
        await city.resources.UpdateUnitStatus(
            rpb.UpdateUnitStatusRequest(name=name, status=resource_pb2.UNIT_STATUS_AVAILABLE),
            timeout=5,
        )


async def statuses(city: City, names: list[str]) -> dict[str, dispatch_pb2.DispatchStatus]:
    """Dispatch status of each incident dispatch has heard of."""

    async def one(name: str) -> dispatch_pb2.DispatchStatus | None:
        try:
            reply = await city.dispatch.GetDispatchStatus(
                dpb.GetDispatchStatusRequest(incident=name), timeout=10
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return reply.status

    found = await asyncio.gather(*(one(n) for n in names))
    return {n: s for n, s in zip(names, found, strict=True) if s is not None}


def active(status: dispatch_pb2.DispatchStatus) -> list[dispatch_pb2.Assignment]:
    return [a for a in status.assignments if a.state != common_pb2.ASSIGNMENT_STATE_RELEASED]


async def assert_nobody_double_booked(
    city: City, all_status: dict[str, dispatch_pb2.DispatchStatus], timeout_s: float = 10
) -> None:
    """No unit in two incidents at dispatch, and the resources service agrees, unit by unit.

    The two services are read one after the other, and a release reaches resources a
    moment after dispatch records it: they must agree within `timeout_s`, and dispatch
    must never hold a unit twice in any read.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        held: dict[str, str] = {}
        for name, s in all_status.items():
            for a in active(s):
                assert a.unit not in held, f"{a.unit} held by {held[a.unit]} and {name}"
                held[a.unit] = name
        units = (
            await city.resources.ListUnits(rpb.ListUnitsRequest(page_size=5000), timeout=10)
        ).units
        at_resources = {u.name: u.incident for u in units if u.incident}
        if at_resources == held:
            return
        assert time.monotonic() < deadline, (at_resources, held)
        await asyncio.sleep(0.2)
        all_status = await statuses(city, list(all_status))


async def wait_served(
    city: City, names: list[str], expected: list[str], timeout_s: float = 20
) -> dict[str, dispatch_pb2.DispatchStatus]:
    """Until exactly the incidents in `expected` hold units, with no reservation in flight."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await statuses(city, names)
        served = [n for n in names if n in found and active(found[n])]
        settled = len(found) == len(names) and all(
            a.state != common_pb2.ASSIGNMENT_STATE_PROPOSED
            for s in found.values()
            for a in s.assignments
        )
        if settled and len(served) >= len(expected):
            return found
        assert time.monotonic() < deadline, (
            f"{len(served)} of {len(expected)} served, {len(found)} known, settled {settled}"
        )
        await asyncio.sleep(0.1)


async def test_burst_in_one_spot_with_too_few_units(
    pki: Pki, nats_server: NatsServer, tmp_path: Path
) -> None:
    city, services, channels = await start_city(
        nats_server,
        tmp_path,
        pki,
        ack_within=timedelta(hours=1),
        auto_priorities=frozenset(Priority),
    )
    try:
        fire_kinds = {resource_pb2.UNIT_KIND_ENGINE, resource_pb2.UNIT_KIND_WATER_TENDER}
        spare = await set_in_service(city, fire_kinds, keep=10)
        # 100 calls at once for the same spot, while no engine is free: all queue.
        rng = random.Random(7)
        created = await asyncio.gather(
            *(city.create("FIRE.RUBBISH", priority=rng.choice([1, 2, 3, 4])) for _ in range(100))
        )
        urgency = sorted(created, key=lambda i: (i.priority, i.create_time.ToDatetime(), i.name))
        names = [i.name for i in urgency]
        found = await wait_served(city, names, [])
        assert all(s.state == dispatch_pb2.DISPATCH_STATE_QUEUED for s in found.values())

        # Ten engines come back: the ten most urgent get them (priority, then age).
        await back_in_service(city, spare)
        found = await wait_served(city, names, names[:10])
        assert [n for n in names if active(found[n])] == names[:10]
        for n in names[10:]:
            assert found[n].state == dispatch_pb2.DISPATCH_STATE_QUEUED
        await assert_nobody_double_booked(city, found)

        # Units free up: the next most urgent are dispatched, with no dispatcher action.
        for n in names[:10]:
            await city.dispatch.ReleaseUnits(
                dpb.ReleaseUnitsRequest(incident=n, reason="fire out"), timeout=5
            )
        deadline = time.monotonic() + 20
        while True:
            found = await statuses(city, names)
            if all(active(found[n]) for n in names[10:20]):
                break
            assert time.monotonic() < deadline, "freed units were not dispatched"
            await asyncio.sleep(0.1)
        assert [n for n in names if active(found[n])] == names[10:20]
        # Released after serving: the first ten are complete and get no units again.
        for n in names[:10]:
            assert found[n].state == dispatch_pb2.DISPATCH_STATE_COMPLETE
        await assert_nobody_double_booked(city, found)
    finally:
        await stop_city(services, channels)


async def test_dispatcher_assigns_p3_with_and_without_recommendation(city: City) -> None:
    incident = await city.create("FIRE.RUBBISH", priority=3)
    rec = await recommend(city, incident.name)
    assert rec.plan.type_code == "FIRE.RUBBISH" and rec.plan.items
    best = next(c for c in rec.candidates if c.selected)
    status = (
        await city.dispatch.GetDispatchStatus(
            dpb.GetDispatchStatusRequest(incident=incident.name), timeout=5
        )
    ).status
    assert status.state == dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER
    assert not status.assignments  # P3: nothing happens without a dispatcher

    # A unit that was not recommended needs a reason.
    far = (await city.available(resource_pb2.UNIT_KIND_PATROL_CAR))[0]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await city.dispatch.AssignUnits(
            dpb.AssignUnitsRequest(incident=incident.name, units=[best.unit, far.name]),
            timeout=5,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in field_violations(refused.value)] == ["override_reason"]

    done = (
        await city.dispatch.AssignUnits(
            dpb.AssignUnitsRequest(
                incident=incident.name,
                units=[best.unit, far.name],
                request_id="dispatcher-7-1",
                override_reason="patrol car to hold the crowd back",
            ),
            timeout=5,
        )
    ).assignments
    by_unit = {a.unit: a for a in done}
    assert not by_unit[best.unit].override and by_unit[far.name].override
    assert by_unit[far.name].override_reason == "patrol car to hold the crowd back"
    # Who assigned: the caller's certificate (the center's supervisor), not what it says.
    assert all(a.assigned_by.user == "command-center" for a in done)
    # The same request again changes nothing and answers the same assignments.
    again = (
        await city.dispatch.AssignUnits(
            dpb.AssignUnitsRequest(
                incident=incident.name,
                units=[best.unit, far.name],
                request_id="dispatcher-7-1",
                override_reason="patrol car to hold the crowd back",
            ),
            timeout=5,
        )
    ).assignments
    assert {a.name for a in again} == {a.name for a in done}

    # The unit acknowledges; releasing frees it at the resources service.
    acked = await city.dispatch.AcknowledgeAssignment(
        dpb.AcknowledgeAssignmentRequest(name=by_unit[best.unit].name), timeout=5
    )
    assert acked.assignment.state == common_pb2.ASSIGNMENT_STATE_ACKNOWLEDGED
    released = await city.dispatch.ReleaseUnits(
        dpb.ReleaseUnitsRequest(incident=incident.name, reason="fire out"), timeout=5
    )
    assert {a.state for a in released.assignments} == {common_pb2.ASSIGNMENT_STATE_RELEASED}
    unit = (await city.resources.GetUnit(rpb.GetUnitRequest(name=far.name), timeout=5)).unit
    assert unit.status == resource_pb2.UNIT_STATUS_AVAILABLE and not unit.incident


async def test_bad_dispatch_requests_name_the_field(city: City) -> None:
    cases = [
        (city.dispatch.RecommendUnits, dpb.RecommendUnitsRequest(incident="fires/1"), "incident"),
        (
            city.dispatch.RecommendUnits,
            dpb.RecommendUnitsRequest(incident="incidents/x", candidates_per_role=99),
            "candidates_per_role",
        ),
        (
            city.dispatch.AssignUnits,
            dpb.AssignUnitsRequest(incident="incidents/x", units=[]),
            "units",
        ),
        (
            city.dispatch.AssignUnits,
            dpb.AssignUnitsRequest(incident="incidents/x", units=["units/a", "units/a"]),
            "units",
        ),
        (
            city.dispatch.AcknowledgeAssignment,
            dpb.AcknowledgeAssignmentRequest(name="assignments/"),
            "name",
        ),
        (
            city.dispatch.GetResponsePlan,
            dpb.GetResponsePlanRequest(type_code="NOT.A_TYPE", priority=1),
            "type_code",
        ),
        (
            city.dispatch.GetResponsePlan,
            dpb.GetResponsePlanRequest(type_code="FIRE.STRUCTURE"),
            "priority",
        ),
    ]
    for method, request, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await method(request, timeout=5)  # type: ignore[operator]
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert field in [v.field for v in field_violations(bad.value)], (
            request,
            bad.value.details(),
        )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await city.dispatch.GetDispatchStatus(
            dpb.GetDispatchStatusRequest(incident="incidents/nope"), timeout=5
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    plan = (
        await city.dispatch.GetResponsePlan(
            dpb.GetResponsePlanRequest(type_code="TRAFFIC.COLLISION_INJURY", priority=1, hour=17),
            timeout=5,
        )
    ).plan
    assert plan.variant.startswith("hours")


async def test_an_ambulance_is_sent_to_the_nearest_hospital_not_on_diversion(city: City) -> None:
    """The nearest hospital to the scene declares full diversion (as a hospital does,
    through the resources service); the ambulance dispatched next records the nearest
    hospital still open as its destination."""
    hospitals = (
        await city.resources.ListHospitals(rpb.ListHospitalsRequest(), timeout=5)
    ).hospitals
    scene = Point(*CENTRE)

    def away(h: resource_pb2.Hospital) -> float:
        return distance_m(scene, Point(h.location.lat, h.location.lon))

    nearest, second = sorted(hospitals, key=away)[:2]
    assert away(second) < REACH_M, "the reference data has a second hospital within reach"
    diverting = resource_pb2.Hospital()
    diverting.CopyFrom(nearest)
    diverting.diversion = resource_pb2.DIVERSION_STATUS_FULL
    await city.resources_as("simulator").UpdateHospitalCapacity(
        rpb.UpdateHospitalCapacityRequest(hospital=diverting), timeout=5
    )

    incident = await city.create("MEDICAL.HEAT_ILLNESS", priority=common_pb2.PRIORITY_P1)
    status = await wait_status(city, incident.name, dispatch_pb2.DISPATCH_STATE_COMPLETE)
    ambulances = [
        a
        for a in status.assignments
        if a.kind in (resource_pb2.UNIT_KIND_AMBULANCE_ALS, resource_pb2.UNIT_KIND_AMBULANCE_BLS)
    ]
    assert ambulances, status
    assert {a.destination_hospital for a in ambulances} == {second.name}, (
        f"{nearest.name} diverts; expected {second.name}"
    )
