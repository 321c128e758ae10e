"""The gRPC face of the dispatch service: protobuf in, domain calls, protobuf out.
Domain errors become gRPC status in one place, `icc_rpc.errors.to_rpc_error`."""

import functools
from collections.abc import Callable
from typing import Any

import grpc
from opentelemetry import trace

from icc.dispatch.v1 import dispatch_service_pb2 as pb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as pb_grpc
from icc_dispatch import convert
from icc_dispatch.domain.errors import DomainError, InvalidInput, Violation
from icc_dispatch.service import DispatchService
from icc_kernel.names import parse_name
from icc_rpc.authz import actor_of, scope
from icc_rpc.convert import AGENCY, PRIORITY, UNIT_KIND
from icc_rpc.errors import to_rpc_error
from icc_telemetry import INCIDENT_ID

Context = grpc.aio.ServicerContext[Any, Any]

__all__ = [
    "DOMAIN_ERRORS",
    "SERVICE_NAME",
    "DispatchApi",
    "add_servicer",
    "register",
    "to_rpc_error",
]


# The most units `RankAvailableUnits` lists at once, and the most kinds or agencies it
# filters by (there are fewer of each: more is a mistake).
MAX_RANKED = 1000
MAX_FILTER = 32


def _incident(name: str) -> str:
    incident_id = parse_name(name, "incidents", "incident")
    trace.get_current_span().set_attribute(INCIDENT_ID, incident_id)
    return incident_id


def _units(names: list[str]) -> list[str]:
    return [parse_name(n, "units", f"units[{i}]") for i, n in enumerate(names)]


class DispatchApi(pb_grpc.DispatchServiceServicer):
    def __init__(self, service: DispatchService) -> None:
        self._service = service

    async def RecommendUnits(
        self, request: pb.RecommendUnitsRequest, context: Context
    ) -> pb.RecommendUnitsResponse:
        incident_id = _incident(request.incident)
        per_role = request.candidates_per_role or 5
        if not 1 <= per_role <= 20:
            raise InvalidInput.one("candidates_per_role", "between 1 and 20")
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
            actor_of(context),
        )
        return pb.AssignUnitsResponse(assignments=[convert.assignment_to_proto(a) for a in done])

    async def AcknowledgeAssignment(
        self, request: pb.AcknowledgeAssignmentRequest, context: Context
    ) -> pb.AcknowledgeAssignmentResponse:
        assignment_id = parse_name(request.name, "assignments", "name")
        a = await self._service.acknowledge(assignment_id, actor_of(context), scope().owns_unit)
        return pb.AcknowledgeAssignmentResponse(assignment=convert.assignment_to_proto(a))

    async def ReleaseUnits(
        self, request: pb.ReleaseUnitsRequest, context: Context
    ) -> pb.ReleaseUnitsResponse:
        incident_id = _incident(request.incident)
        done = await self._service.release(
            incident_id, _units(list(request.units)), request.reason, actor_of(context)
        )
        return pb.ReleaseUnitsResponse(assignments=[convert.assignment_to_proto(a) for a in done])

    async def GetDispatchStatus(
        self, request: pb.GetDispatchStatusRequest, context: Context
    ) -> pb.GetDispatchStatusResponse:
        status = await self._service.status(_incident(request.incident))
        return pb.GetDispatchStatusResponse(status=convert.status_to_proto(status))

    async def GetResponsePlan(
        self, request: pb.GetResponsePlanRequest, context: Context
    ) -> pb.GetResponsePlanResponse:
        out: list[Violation] = []
        if not request.type_code:
            out.append(Violation("type_code", "required, e.g. FIRE.STRUCTURE"))
        priority = PRIORITY.required(request.priority, "priority", out)
        if not -1 <= request.hour <= 23:
            out.append(Violation("hour", "0..23, or -1 for now"))
        if out or priority is None:
            raise InvalidInput(out)
        plans = self._service.plans
        plan = (
            plans.plan(request.type_code, priority, self._service.clock())
            if request.hour < 0
            else plans.plan_at_hour(request.type_code, priority, request.hour)
        )
        return pb.GetResponsePlanResponse(plan=convert.plan_to_proto(plan))

    async def RankAvailableUnits(
        self, request: pb.RankAvailableUnitsRequest, context: Context
    ) -> pb.RankAvailableUnitsResponse:
        out: list[Violation] = []
        try:
            incident_id = _incident(request.incident)
        except InvalidInput as exc:
            out.extend(exc.violations)
        for field, items in (("kinds", request.kinds), ("agencies", request.agencies)):
            if len(items) > MAX_FILTER:
                out.append(Violation(field, f"at most {MAX_FILTER}"))
        kinds = UNIT_KIND.from_protos(request.kinds[:MAX_FILTER], "kinds", out)
        agencies = AGENCY.from_protos(request.agencies[:MAX_FILTER], "agencies", out)
        if not 0 <= request.max_units <= MAX_RANKED:
            out.append(Violation("max_units", f"0 (every unit) to {MAX_RANKED}"))
        if out:
            raise InvalidInput(out)
        ranked = await self._service.rank_available(incident_id, kinds, agencies, request.max_units)
        return convert.ranked_to_proto(ranked)


SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DispatchService"].full_name
add_servicer = pb_grpc.add_DispatchServiceServicer_to_server


# The bench's recommendation server starts the API with `icc_rpc.start_server` itself,
# naming these; the service starts it with `icc_host.serve_grpc` (the same defaults).
def register(api: DispatchApi) -> Callable[[grpc.aio.Server], None]:
    return functools.partial(add_servicer, api)


DOMAIN_ERRORS: tuple[type[Exception], ...] = (DomainError,)
