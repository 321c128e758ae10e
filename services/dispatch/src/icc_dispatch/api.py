"""The gRPC face of the dispatch service: protobuf in, domain calls, protobuf out."""

from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry import trace

from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as pb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as pb_grpc
from icc_dispatch import convert
from icc_dispatch.domain.errors import (
    DispatchError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    UnitsUnavailable,
    Violation,
)
from icc_dispatch.domain.model import Actor, Agency, AssignmentState, IncidentPhase, Priority
from icc_dispatch.domain.plans import UnknownType
from icc_dispatch.service import DispatchService, Status
from icc_rpc import FieldViolation, RpcError
from icc_rpc.identity import caller_of
from icc_telemetry import INCIDENT_ID

Context = grpc.aio.ServicerContext[Any, Any]
_ID_MAX = 64


def to_rpc_error(exc: Exception) -> RpcError:
    """The one place where domain errors become gRPC status."""
    if isinstance(exc, InvalidInput):
        return RpcError.invalid([FieldViolation(v.field, v.description) for v in exc.violations])
    if isinstance(exc, NotFound):
        return RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NOT_FOUND")
    if isinstance(exc, UnitsUnavailable):
        return RpcError(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"{exc}; ask for a new recommendation",
            reason="UNITS_UNAVAILABLE",
            metadata={"units": ",".join(f"units/{u}" for u in sorted(exc.reasons))},
        )
    if isinstance(exc, IllegalTransition):
        return RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(exc), reason="ILLEGAL_TRANSITION")
    if isinstance(exc, UnknownType):
        return RpcError.invalid([FieldViolation("type_code", str(exc))])
    raise exc


def actor_from(context: Context) -> Actor:
    caller = caller_of(context)
    return Actor(user=caller.user, agency=Agency[caller.agency], role=caller.role)


def parse_name(name: str, collection: str, field: str) -> str:
    value = name.removeprefix(f"{collection}/")
    if not value or len(value) > _ID_MAX or "/" in value:
        raise InvalidInput([Violation(field, f"expected {collection}/{{id}}, got {name[:80]!r}")])
    return value


def _incident(name: str) -> str:
    incident_id = parse_name(name, "incidents", "incident")
    trace.get_current_span().set_attribute(INCIDENT_ID, incident_id)
    return incident_id


def _units(names: list[str]) -> list[str]:
    return [parse_name(n, "units", f"units[{i}]") for i, n in enumerate(names)]


def status_to_proto(s: Status) -> dispatch_pb2.DispatchStatus:
    if s.incident.phase is IncidentPhase.ENDED:
        state = dispatch_pb2.DISPATCH_STATE_ENDED
    elif not s.needs and not any(a.state is AssignmentState.PROPOSED for a in s.assignments):
        state = dispatch_pb2.DISPATCH_STATE_COMPLETE
    elif s.incident.auto:
        state = dispatch_pb2.DISPATCH_STATE_QUEUED
    else:
        state = dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER
    return dispatch_pb2.DispatchStatus(
        incident=s.incident.name,
        type_code=s.incident.type_code,
        priority=int(s.incident.priority),  # type: ignore[arg-type]
        state=state,
        auto_dispatch=s.incident.auto,
        plan=convert.plan_to_proto(s.plan),
        assignments=[convert.assignment_to_proto(a) for a in s.assignments],
        shortfalls=[
            convert.shortfall_to_proto(convert.need_to_shortfall(n, "not yet assigned"))
            for n in s.needs
        ],
    )


class DispatchApi(pb_grpc.DispatchServiceServicer):
    def __init__(self, service: DispatchService) -> None:
        self._service = service

    async def RecommendUnits(
        self, request: pb.RecommendUnitsRequest, context: Context
    ) -> pb.RecommendUnitsResponse:
        incident_id = _incident(request.incident)
        per_role = request.candidates_per_role or 5
        if not 1 <= per_role <= 20:
            raise InvalidInput([Violation("candidates_per_role", "between 1 and 20")])
        rec = await self._service.recommend(incident_id, per_role)
        return pb.RecommendUnitsResponse(recommendation=convert.recommendation_to_proto(rec))

    async def AssignUnits(
        self, request: pb.AssignUnitsRequest, context: Context
    ) -> pb.AssignUnitsResponse:
        incident_id = _incident(request.incident)
        done = await self._service.assign(
            incident_id,
            _units(list(request.units)),
            request.request_id,
            request.override_reason,
            actor_from(context),
        )
        return pb.AssignUnitsResponse(assignments=[convert.assignment_to_proto(a) for a in done])

    async def AcknowledgeAssignment(
        self, request: pb.AcknowledgeAssignmentRequest, context: Context
    ) -> pb.AcknowledgeAssignmentResponse:
        assignment_id = parse_name(request.name, "assignments", "name")
        a = await self._service.acknowledge(assignment_id, actor_from(context))
        return pb.AcknowledgeAssignmentResponse(assignment=convert.assignment_to_proto(a))

    async def ReleaseUnits(
        self, request: pb.ReleaseUnitsRequest, context: Context
    ) -> pb.ReleaseUnitsResponse:
        incident_id = _incident(request.incident)
        done = await self._service.release(
            incident_id, _units(list(request.units)), request.reason, actor_from(context)
        )
        return pb.ReleaseUnitsResponse(assignments=[convert.assignment_to_proto(a) for a in done])

    async def GetDispatchStatus(
        self, request: pb.GetDispatchStatusRequest, context: Context
    ) -> pb.GetDispatchStatusResponse:
        status = await self._service.status(_incident(request.incident))
        return pb.GetDispatchStatusResponse(status=status_to_proto(status))

    async def GetResponsePlan(
        self, request: pb.GetResponsePlanRequest, context: Context
    ) -> pb.GetResponsePlanResponse:
        out: list[Violation] = []
        if not request.type_code:
            out.append(Violation("type_code", "required, e.g. FIRE.STRUCTURE"))
        if request.priority not in (1, 2, 3, 4):
            out.append(Violation("priority", "required: P1 to P4"))
        if not -1 <= request.hour <= 23:
            out.append(Violation("hour", "0..23, or -1 for now"))
        if out:
            raise InvalidInput(out)
        plans = self._service.plans
        priority = Priority(request.priority)
        plan = (
            plans.plan(request.type_code, priority, self._service.clock())
            if request.hour < 0
            else plans.plan_at_hour(request.type_code, priority, request.hour)
        )
        return pb.GetResponsePlanResponse(plan=convert.plan_to_proto(plan))


def register(api: DispatchApi) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        pb_grpc.add_DispatchServiceServicer_to_server(api, server)

    return add


SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DispatchService"].full_name

# Domain errors the server answers through `to_rpc_error`.
DOMAIN_ERRORS: tuple[type[Exception], ...] = (DispatchError, UnknownType)
