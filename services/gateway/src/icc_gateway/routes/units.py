"""Units: a dispatcher sets a unit's status (the unit itself usually reports it)."""

from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc_gateway import convert, schemas
from icc_gateway.routes.deps import AnyId, Dispatcher, api_router, tag
from icc_kernel.names import name_of
from icc_telemetry import UNIT_ID

router = api_router("dispatch")


@router.post("/units/{id}/status", response_model=schemas.UnitResponse)
async def unit_status(
    unit_id: AnyId, body: schemas.UnitStatusRequest, you: Dispatcher
) -> schemas.UnitResponse:
    tag(UNIT_ID, unit_id)
    request = resource_pb.UpdateUnitStatusRequest(
        name=name_of("units", unit_id),
        status=convert.unit_status_value(body.status),
        reason=body.reason,
    )
    reply = await you.call("resources", you.services.resources.UpdateUnitStatus, request)
    return schemas.UnitResponse(unit=convert.unit_item(reply.unit))
