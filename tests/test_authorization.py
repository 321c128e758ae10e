"""Who may call what, on the running services over mutual TLS.

The matrix: every RPC of every service (from the descriptors) × every kind of caller (no
certificate, another CA's, an expired one, each partner agency, a viewer, a device, a
hospital, an engineer, a service, the command center). A caller its RPC's rule does not
allow is refused (PERMISSION_DENIED; a certificate the handshake refuses never gets to
ask: UNAVAILABLE); one it allows is never refused as a caller (an answer about the object,
NOT_FOUND or FAILED_PRECONDITION, is fine). What an allowed caller then sees and changes is
in the scope tests (`services/incidents/tests/test_incident_scope.py`, `services/resources/tests/test_resource_scope.py`) and below.
"""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.ops.v1 import dead_letter_service_pb2 as opb
from icc.resource.v1 import events_pb2, resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc_bus import BusConfig
from icc_ops import main as ops_main
from icc_pki.local import EXAMPLE_HOSPITAL, EXAMPLE_UNIT
from icc_rpc.authz import Rule
from icc_testing import Pki
from tests.conftest import CENTRE, City
from tests.test_policy import POLICIES, contract_services

pytestmark = pytest.mark.slow

UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
IDENTITIES = (
    "police-113",
    "fire-114",
    "medical-115",
    "police-viewer",
    "device-ambulance",
    "hospital-choray",
    "oncall",
    "dispatch",
    "gateway",
    "simulator",
    "command-center",
)
BAD = ("no certificate", "another CA", "expired")


@dataclass
class Objects:
    incident: str
    unit: str


def requests(o: Objects) -> dict[str, Any]:
    """A request for each RPC that names things that exist."""
    here = common_pb2.Location(lat=CENTRE[0], lon=CENTRE[1])
    position = resource_pb2.Position(lat=CENTRE[0], lon=CENTRE[1])
    position.report_time.GetCurrentTime()
    report = rpb.ReportPositionRequest(
        report=events_pb2.UnitPositionReported(unit=f"units/{o.unit}", position=position)
    )
    return {
        "CreateIncident": ipb.CreateIncidentRequest(
            incident=incident_pb2.Incident(
                type_code="MEDICAL.SICK_PERSON",
                location=common_pb2.Location(lat=CENTRE[0], lon=CENTRE[1]),
            )
        ),
        "GetIncident": ipb.GetIncidentRequest(name=o.incident),
        "ListIncidents": ipb.ListIncidentsRequest(),
        "UpdateIncident": ipb.UpdateIncidentRequest(
            incident=incident_pb2.Incident(name=o.incident, description="x", etag='W/"1"'),
        ),
        "AddNote": ipb.AddNoteRequest(parent=o.incident, text="a note"),
        "MergeIncidents": ipb.MergeIncidentsRequest(name=o.incident, duplicates=[o.incident]),
        "CloseIncident": ipb.CloseIncidentRequest(name=o.incident, resolution="done"),
        "CancelIncident": ipb.CancelIncidentRequest(name=o.incident, reason="test"),
        "ListChronology": ipb.ListChronologyRequest(parent=o.incident),
        "ListAuditRecords": ipb.ListAuditRecordsRequest(parent=o.incident),
        "GetIncidentEido": ipb.GetIncidentEidoRequest(name=o.incident),
        # Not a valid EIDO document: whoever is let in is answered INVALID_ARGUMENT.
        "ImportEido": ipb.ImportEidoRequest(document="{}"),
        "ListIncidentTypes": ipb.ListIncidentTypesRequest(),
        "WatchIncidents": ipb.WatchIncidentsRequest(),
        "ListUnits": rpb.ListUnitsRequest(page_size=5),
        "GetUnit": rpb.GetUnitRequest(name=f"units/{o.unit}"),
        "UpdateUnitStatus": rpb.UpdateUnitStatusRequest(
            name=f"units/{o.unit}", status=resource_pb2.UNIT_STATUS_AVAILABLE
        ),
        "ReserveUnits": rpb.ReserveUnitsRequest(
            incident=o.incident, units=[f"units/{o.unit}"], request_id="matrix-reserve"
        ),
        "ReleaseUnits": rpb.ReleaseUnitsRequest(
            incident=o.incident, units=[f"units/{o.unit}"], request_id="matrix-release"
        ),
        "ReportPosition": report,
        "ReportPositions": [report],
        "ListAgencies": rpb.ListAgenciesRequest(),
        "ListStations": rpb.ListStationsRequest(),
        "ListHospitals": rpb.ListHospitalsRequest(),
        "WatchHospitals": rpb.WatchHospitalsRequest(),
        "UpdateHospitalCapacity": rpb.UpdateHospitalCapacityRequest(
            hospital=resource_pb2.Hospital(name=f"hospitals/{EXAMPLE_HOSPITAL}")
        ),
        "RecommendUnits": dpb.RecommendUnitsRequest(incident=o.incident),
        "AssignUnits": dpb.AssignUnitsRequest(incident=o.incident, units=[f"units/{o.unit}"]),
        "AcknowledgeAssignment": dpb.AcknowledgeAssignmentRequest(name="assignments/none"),
        "ReleaseUnits@dispatch": dpb.ReleaseUnitsRequest(incident=o.incident),
        "GetDispatchStatus": dpb.GetDispatchStatusRequest(incident=o.incident),
        "GetResponsePlan": dpb.GetResponsePlanRequest(
            type_code="MEDICAL.SICK_PERSON", priority=common_pb2.PRIORITY_P3, hour=-1
        ),
        "SearchPlaces": ipb.SearchPlacesRequest(query="chợ Bến Thành"),
        "FindPossibleDuplicates": ipb.FindPossibleDuplicatesRequest(
            location=here, type_code="MEDICAL.SICK_PERSON"
        ),
        "AddCaller": ipb.AddCallerRequest(
            parent=o.incident, caller=incident_pb2.Caller(name="B", phone="0909000111")
        ),
        "CreateCaution": ipb.CreateCautionRequest(
            caution=incident_pb2.Caution(
                kind=incident_pb2.CAUTION_KIND_HAZARDOUS_MATERIALS, text="gas", location=here
            )
        ),
        "ListCautions": ipb.ListCautionsRequest(near=here),
        "ListKeyQuestions": ipb.ListKeyQuestionsRequest(type_code="MEDICAL.CARDIAC_ARREST"),
        "GetPlaceHistory": ipb.GetPlaceHistoryRequest(near=here),
        "RankAvailableUnits": dpb.RankAvailableUnitsRequest(incident=o.incident),
        "AnswerKeyQuestions": ipb.AnswerKeyQuestionsRequest(name=o.incident),
        "ListDeadLetters": opb.ListDeadLettersRequest(),
        "GetDeadLetter": opb.GetDeadLetterRequest(name="deadLetters/1"),
        "ReplayDeadLetter": opb.ReplayDeadLetterRequest(name="deadLetters/1"),
        "DiscardDeadLetter": opb.DiscardDeadLetterRequest(name="deadLetters/1", reason="test"),
    }


async def call(
    channel: grpc.aio.Channel, method: MethodDescriptor, request: Any
) -> grpc.StatusCode:
    """The status of one call (OK, or the error's code)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    reply_type = message_factory.GetMessageClass(method.output_type)
    kw: dict[str, Callable[..., Any]] = {
        "request_serializer": lambda m: m.SerializeToString(),
        "response_deserializer": reply_type.FromString,
    }
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path, **kw)(request, timeout=0.5)
            async for _ in stream:
                break
        elif method.client_streaming:
            await channel.stream_unary(path, **kw)(iter(request), timeout=5)
        else:
            await channel.unary_unary(path, **kw)(request, timeout=5)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def credentials(pki: Pki, who: str) -> grpc.ChannelCredentials | None:
    if who == "no certificate":
        return None
    if who == "another CA":
        return pki.foreign("police-113")
    if who == "expired":
        return pki.expired("police-113")
    return pki.credentials(who)


@pytest_asyncio.fixture
async def objects(city: City) -> AsyncIterator[Objects]:
    incident = await city.create("MEDICAL.SICK_PERSON", priority=3)
    yield Objects(incident.name, EXAMPLE_UNIT)


@pytest_asyncio.fixture
async def ops(city: City, pki: Pki) -> AsyncIterator[object]:
    running = await ops_main.start(
        ops_main.Config("127.0.0.1:0", BusConfig(city.nats.url), pki.tls("ops"))
    )
    yield running
    await running.stop()


async def test_every_rpc_refuses_every_caller_its_rule_does_not_allow(
    city: City, objects: Objects, ops: object, pki: Pki
) -> None:
    targets = {
        "icc.incident.v1.IncidentService": city.running["incidents"],
        "icc.resource.v1.ResourceService": city.running["resources"],
        "icc.dispatch.v1.DispatchService": city.running["dispatch"],
        "icc.ops.v1.DeadLetterService": ops,
    }
    built = requests(objects)
    wrong: list[str] = []
    calls = 0
    for who in (*BAD, *IDENTITIES):
        creds = credentials(pki, who)
        principal = None if who in BAD else pki.identities[who].principal()
        for service in contract_services():
            target = f"127.0.0.1:{targets[service.full_name].port}"  # type: ignore[attr-defined]
            channel = (
                grpc.aio.secure_channel(target, creds)
                if creds
                else grpc.aio.insecure_channel(target)
            )
            async with channel:
                for method in service.methods:
                    key = method.name
                    if service.full_name.startswith("icc.dispatch") and key == "ReleaseUnits":
                        key = "ReleaseUnits@dispatch"
                    code, details = await call(channel, method, built[key])
                    calls += 1
                    rule: Rule = POLICIES[service.full_name].rules[method.name]
                    if principal is None:
                        ok = code == UNAVAILABLE
                    elif rule.allows(principal):
                        # Let in: at most refused this object (another agency's incident or
                        # unit), never the call; a caller with every agency's scope, neither.
                        full = principal.center or principal.kind.value in ("service", "gateway")
                        ok = code not in (grpc.StatusCode.UNAUTHENTICATED, UNAVAILABLE) and (
                            code != grpc.StatusCode.PERMISSION_DENIED
                            or (not full and "may not call" not in details)
                        )
                    else:
                        ok = code == grpc.StatusCode.PERMISSION_DENIED and "may not call" in details
                    if not ok:
                        wrong.append(f"{who} {method.name}: {code.name} {details[:80]}")
    assert calls == (len(BAD) + len(IDENTITIES)) * sum(len(s.methods) for s in contract_services())
    assert not wrong, "\n".join(wrong)
