"""What the dispatcher's screen reads, end to end (real nats-server, real gRPC servers):
reasons and chronology as codes, a decision waiting, the override list by ETA, and the
trip of an assigned unit on both the dispatch status and the incident."""

import asyncio
import time

import grpc
import pytest

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.resource.v1 import resource_pb2
from icc_kernel.reasons import ReasonCode, english
from icc_rpc.convert import reasons_from_proto
from icc_rpc.errors import field_violations
from tests.conftest import City
from tests.test_dispatch import recommend, wait_status

R = ReasonCode


def codes(reasons: list[common_pb2.Reason]) -> list[int]:
    return [r.code for r in reasons]


async def chronology(city: City, name: str, entries: int) -> list[incident_pb2.ChronologyEntry]:
    """The incident's chronology once it has `entries` entries (dispatch's news is on its way)."""
    deadline = time.monotonic() + 10
    while True:
        reply = await city.incidents.ListChronology(
            ipb.ListChronologyRequest(parent=name), timeout=5
        )
        if len(reply.entries) >= entries or time.monotonic() > deadline:
            return list(reply.entries)
        await asyncio.sleep(0.05)


async def test_a_p3_waits_for_a_decision_and_the_override_list_is_by_eta(city: City) -> None:
    incident = await city.create("FIRE.STRUCTURE", priority=3)
    status = await wait_status(city, incident.name, dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER)
    assert status.awaiting_decision and status.HasField("awaiting_since")
    assert status.awaiting_since == incident.create_time
    assert {s.coded_reason.code for s in status.shortfalls} == {R.AWAITING_DISPATCHER}

    # The recommendation in codes, and the same in the English older clients read.
    rec = await recommend(city, incident.name)
    assert rec.eta_source_code == common_pb2.ETA_SOURCE_TRAVEL_MODEL
    assert rec.eta_source == "travel-model" and rec.mutual_aid_eta_seconds == 900
    for c in rec.candidates:
        assert c.coded_reasons[0].code in (R.KIND_AS_PLANNED, R.KIND_IN_PLACE_OF, R.STANDS_IN)
        assert R.ETA in codes(list(c.coded_reasons))
        assert english(reasons_from_proto(c.coded_reasons)).split("; ") == list(c.reasons)

    # Every available engine, nearest by ETA first, in codes only.
    reply = await city.dispatch.RankAvailableUnits(
        dpb.RankAvailableUnitsRequest(
            incident=incident.name, kinds=[resource_pb2.UNIT_KIND_ENGINE]
        ),
        timeout=5,
    )
    ranked = list(reply.candidates)
    engines = await city.available(resource_pb2.UNIT_KIND_ENGINE)
    assert {c.unit for c in ranked} == {u.name for u in engines}
    etas = [c.eta_seconds for c in ranked]
    assert etas == sorted(etas) and [c.rank for c in ranked] == list(range(1, len(ranked) + 1))
    assert reply.mutual_aid_eta_seconds == 900
    assert all(c.beyond_mutual_aid_eta == (c.eta_seconds > 900) for c in ranked)
    assert any(c.beyond_mutual_aid_eta for c in ranked)  # the city is larger than 15 minutes
    assert all(not c.reasons and c.coded_reasons and c.distance_meters > 0 for c in ranked)
    assert {c.role for c in ranked} == {"engine"}
    few = await city.dispatch.RankAvailableUnits(
        dpb.RankAvailableUnitsRequest(incident=incident.name, max_units=3), timeout=5
    )
    assert len(few.candidates) == 3

    # The dispatcher sends the nearest engine: its trip is on the status and the incident.
    best = ranked[0]
    done = await city.dispatch.AssignUnits(
        dpb.AssignUnitsRequest(incident=incident.name, units=[best.unit], request_id="pick-1"),
        timeout=5,
    )
    (a,) = done.assignments
    assert (a.eta_seconds, a.distance_meters) == (best.eta_seconds, best.distance_meters)
    assert a.eta_source_code == common_pb2.ETA_SOURCE_TRAVEL_MODEL
    entries = await chronology(city, incident.name, 2)
    created, assigned = entries[0], entries[1]
    assert codes(list(created.coded_detail)) == [R.CREATED]
    assert dict(created.coded_detail[0].params) == {
        "type_code": "FIRE.STRUCTURE",
        "priority": "P3",
        "call_line": "EMERGENCY_112",
    }
    assert codes(list(assigned.coded_detail)) == [R.ASSIGNED_BY_DISPATCHER, R.STATE_CHANGED]
    assert dict(assigned.coded_detail[1].params) == {"before": "NEW", "after": "DISPATCHED"}
    assert assigned.detail.startswith("assigned by a dispatcher: ")
    got = (
        await city.incidents.GetIncident(ipb.GetIncidentRequest(name=incident.name), timeout=5)
    ).incident
    (kept,) = got.assignments
    assert (kept.eta_seconds, kept.distance_meters, kept.eta_source_code) == (
        a.eta_seconds,
        a.distance_meters,
        common_pb2.ETA_SOURCE_TRAVEL_MODEL,
    )


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (dpb.RankAvailableUnitsRequest(incident="incidents/x", kinds=[99]), "kinds[0]"),  # type: ignore[list-item]
        (dpb.RankAvailableUnitsRequest(incident="incidents/x", agencies=[0]), "agencies[0]"),
        (dpb.RankAvailableUnitsRequest(incident="incidents/x", max_units=1001), "max_units"),
        (dpb.RankAvailableUnitsRequest(incident="nope"), "incident"),
    ],
)
async def test_bad_override_list_requests_name_the_field(
    city: City, request_: dpb.RankAvailableUnitsRequest, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await city.dispatch.RankAvailableUnits(request_, timeout=5)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in {v.field for v in field_violations(err.value)}
