"""Dispatch: an incident's dispatch status and recommendation, assigning and releasing
units, acknowledging an assignment. All or nothing, as the dispatch service does it."""

import uuid
from typing import Annotated

from fastapi import Query

from icc.dispatch.v1 import dispatch_service_pb2 as dispatch_pb
from icc_gateway import convert, schemas
from icc_gateway.domain.names import AgencyName, UnitKindName
from icc_gateway.routes.deps import (
    AnyId,
    Dispatcher,
    IncidentId,
    Viewer,
    api_router,
    incident_name,
    tag,
)
from icc_kernel.names import id_of, name_of
from icc_kernel.vocabulary import Agency, UnitKind
from icc_rpc import convert as edge
from icc_telemetry import INCIDENT_ID

router = api_router("dispatch")
# Recommending, assigning and releasing may wait on routes and on the resources service:
# more time than a read.
_ROUTING_S = 10.0


def _units(ids: list[str]) -> list[str]:
    return [name_of("units", u) for u in ids]


@router.get("/incidents/{id}/dispatch", response_model=schemas.DispatchStatus)
async def dispatch_status(incident_id: IncidentId, you: Viewer) -> schemas.DispatchStatus:
    request = dispatch_pb.GetDispatchStatusRequest(incident=incident_name(incident_id))
    reply = await you.call("dispatch", you.services.dispatch.GetDispatchStatus, request)
    return convert.dispatch_status(reply.status)


@router.get("/incidents/{id}/recommendation", response_model=schemas.Recommendation)
async def recommendation(incident_id: IncidentId, you: Viewer) -> schemas.Recommendation:
    request = dispatch_pb.RecommendUnitsRequest(incident=incident_name(incident_id))
    method = you.services.dispatch.RecommendUnits
    reply = await you.call("dispatch", method, request, timeout_s=_ROUTING_S)
    return convert.recommendation(reply.recommendation)


@router.get("/incidents/{id}/available-units", response_model=schemas.AvailableUnits)
async def available_units(
    incident_id: IncidentId,
    you: Dispatcher,
    kind: Annotated[UnitKindName | None, Query(description="Only this kind (none: all)")] = None,
    agency: Annotated[AgencyName | None, Query(description="Only this agency (none: all)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many")] = 1000,
) -> schemas.AvailableUnits:
    """Every available unit nearest by ETA first, for a dispatcher's override: the role
    of the plan each could fill, distance, agency, and whether it is beyond the
    mutual-aid threshold."""
    request = dispatch_pb.RankAvailableUnitsRequest(
        incident=incident_name(incident_id),
        kinds=edge.UNIT_KIND.to_protos([UnitKind[kind]] if kind else []),
        agencies=edge.AGENCY.to_protos([Agency[agency]] if agency else []),
        max_units=limit,
    )
    method = you.services.dispatch.RankAvailableUnits
    reply = await you.call("dispatch", method, request, timeout_s=_ROUTING_S)
    return convert.available_units(reply)


@router.post("/incidents/{id}/assign", response_model=schemas.AssignmentsResponse)
async def assign(
    incident_id: IncidentId, body: schemas.AssignRequest, you: Dispatcher
) -> schemas.AssignmentsResponse:
    """All or nothing. A unit that was not recommended needs `override_reason`."""
    request = dispatch_pb.AssignUnitsRequest(
        incident=incident_name(incident_id),
        units=_units(body.units),
        # Without one, a retried click could assign twice; the screen should send one.
        request_id=body.request_id or uuid.uuid4().hex,
        override_reason=body.override_reason,
    )
    method = you.services.dispatch.AssignUnits
    reply = await you.call("dispatch", method, request, timeout_s=_ROUTING_S)
    return schemas.AssignmentsResponse(assignments=list(map(convert.assignment, reply.assignments)))


@router.post("/incidents/{id}/release", response_model=schemas.AssignmentsResponse)
async def release(
    incident_id: IncidentId, body: schemas.ReleaseRequest, you: Dispatcher
) -> schemas.AssignmentsResponse:
    """Frees the named units (none named: every unit of the incident)."""
    request = dispatch_pb.ReleaseUnitsRequest(
        incident=incident_name(incident_id), units=_units(body.units), reason=body.reason
    )
    method = you.services.dispatch.ReleaseUnits
    reply = await you.call("dispatch", method, request, timeout_s=_ROUTING_S)
    return schemas.AssignmentsResponse(assignments=list(map(convert.assignment, reply.assignments)))


@router.post("/assignments/{id}/acknowledge", response_model=schemas.AssignmentResponse)
async def acknowledge(assignment_id: AnyId, you: Dispatcher) -> schemas.AssignmentResponse:
    request = dispatch_pb.AcknowledgeAssignmentRequest(name=name_of("assignments", assignment_id))
    reply = await you.call("dispatch", you.services.dispatch.AcknowledgeAssignment, request)
    if reply.assignment.incident:
        tag(INCIDENT_ID, id_of(reply.assignment.incident))
    return schemas.AssignmentResponse(assignment=convert.assignment(reply.assignment))
