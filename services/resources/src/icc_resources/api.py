"""The gRPC face of the resources service."""

import base64
import binascii
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import grpc
from opentelemetry import trace

from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as pb
from icc.resource.v1 import resource_service_pb2_grpc as pb_grpc
from icc_resources import convert
from icc_resources.avl import Avl, PositionView
from icc_resources.domain.avl import Verdict
from icc_resources.domain.errors import (
    IllegalTransition,
    InvalidInput,
    NotFound,
    ResourceError,
    StaleEtag,
    UnitsUnavailable,
    Violation,
)
from icc_resources.domain.model import (
    AGENCIES,
    Actor,
    Agency,
    Capacity,
    Diversion,
    Position,
    Unit,
    UnitKind,
    UnitStatus,
)
from icc_resources.service import ResourceService, UnitFilter
from icc_rpc import FieldViolation, RpcError
from icc_rpc.identity import caller_of
from icc_telemetry import INCIDENT_ID, UNIT_ID

Context = grpc.aio.ServicerContext[Any, Any]
MAX_PAGE = 5000


def to_rpc_error(exc: Exception) -> RpcError:
    """The one place where domain errors become gRPC status."""
    if isinstance(exc, InvalidInput):
        return RpcError.invalid([FieldViolation(v.field, v.description) for v in exc.violations])
    if isinstance(exc, NotFound):
        return RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NOT_FOUND")
    if isinstance(exc, StaleEtag):
        return RpcError(grpc.StatusCode.ABORTED, str(exc), reason="ETAG_MISMATCH")
    if isinstance(exc, UnitsUnavailable):
        # Not worth retrying as is: choose other units (dispatch tries the next best).
        return RpcError(
            grpc.StatusCode.FAILED_PRECONDITION,
            str(exc),
            reason="UNITS_UNAVAILABLE",
            metadata={"units": ",".join(sorted(exc.reasons))},
        )
    if isinstance(exc, IllegalTransition):
        return RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(exc), reason="ILLEGAL_TRANSITION")
    raise exc


def actor_from(context: Context) -> Actor:
    caller = caller_of(context)
    return Actor(user=caller.user, agency=Agency[caller.agency], role=caller.role)


def _enum(cls: Any, value: int, field: str, out: list[Violation]) -> Any:
    try:
        return cls(value)
    except ValueError:
        out.append(Violation(field, f"unknown value {value}"))
        return None


def _unit_ids(names: list[str], field: str) -> list[str]:
    return [convert.parse_name(n, "units", f"{field}[{i}]") for i, n in enumerate(names)]


class ResourceApi(pb_grpc.ResourceServiceServicer):
    def __init__(self, service: ResourceService, view: PositionView, avl: Avl) -> None:
        self._service = service
        self._view = view
        self._avl = avl
        # Messages built for the unit and position objects last seen: the service
        # hands back the same Unit while its version holds, the view the same
        # Position until a newer report, so most of a fleet is copied, not built.
        self._unit_msgs: dict[str, tuple[Unit, resource_pb2.Unit]] = {}
        self._position_msgs: dict[str, tuple[Position, resource_pb2.Position]] = {}

    def _fill(self, target: resource_pb2.Unit, unit: Unit, now: datetime) -> None:
        cached = self._unit_msgs.get(unit.id)
        if cached is None or cached[0] is not unit:
            cached = (unit, convert.unit_to_proto(unit))
            self._unit_msgs[unit.id] = cached
        target.CopyFrom(cached[1])
        p = self._view.latest(unit.id)
        if p is None:
            return
        pos = self._position_msgs.get(unit.id)
        if pos is None or pos[0] is not p:
            pos = (p, convert.position_to_proto(p, stale=False))
            self._position_msgs[unit.id] = pos
        target.position.CopyFrom(pos[1])
        if self._view.stale(p, now):
            target.position.stale = True

    def _with_position(self, unit: Unit, now: datetime) -> resource_pb2.Unit:
        out = resource_pb2.Unit()
        self._fill(out, unit, now)
        return out

    async def ListUnits(
        self, request: pb.ListUnitsRequest, context: Context
    ) -> pb.ListUnitsResponse:
        out: list[Violation] = []
        agency = _enum(Agency, request.agency, "agency", out) if request.agency else None
        statuses = [
            _enum(UnitStatus, s, f"statuses[{i}]", out) for i, s in enumerate(request.statuses)
        ]
        kinds = [_enum(UnitKind, k, f"kinds[{i}]", out) for i, k in enumerate(request.kinds)]
        station = (
            convert.parse_name(request.home_station, "stations", "home_station")
            if request.home_station
            else None
        )
        if request.page_size < 0:
            out.append(Violation("page_size", "must not be negative"))
        after = ""
        if request.page_token:
            try:
                after = base64.urlsafe_b64decode(request.page_token.encode()).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                out.append(Violation("page_token", "not a token from a previous response"))
        if out:
            raise InvalidInput(out)
        size = min(request.page_size or 500, MAX_PAGE)
        flt = UnitFilter(agency, tuple(statuses), tuple(kinds), station)
        units = await self._service.list_units(flt, size + 1, after)
        now = datetime.now(UTC)
        token = ""
        if len(units) > size:
            units = units[:size]
            token = base64.urlsafe_b64encode(units[-1].id.encode()).decode()
        response = pb.ListUnitsResponse(next_page_token=token)
        for unit in units:
            self._fill(response.units.add(), unit, now)
        return response

    async def GetUnit(self, request: pb.GetUnitRequest, context: Context) -> pb.GetUnitResponse:
        unit_id = convert.parse_name(request.name, "units", "name")
        trace.get_current_span().set_attribute(UNIT_ID, unit_id)
        unit = await self._service.get_unit(unit_id)
        return pb.GetUnitResponse(unit=self._with_position(unit, datetime.now(UTC)))

    async def UpdateUnitStatus(
        self, request: pb.UpdateUnitStatusRequest, context: Context
    ) -> pb.UpdateUnitStatusResponse:
        unit_id = convert.parse_name(request.name, "units", "name")
        trace.get_current_span().set_attribute(UNIT_ID, unit_id)
        out: list[Violation] = []
        status = _enum(UnitStatus, request.status, "status", out) if request.status else None
        if request.status == 0:
            out.append(Violation("status", "required"))
        if out or status is None:
            raise InvalidInput(out)
        unit = await self._service.update_status(
            unit_id, status, request.etag, request.reason, actor_from(context)
        )
        return pb.UpdateUnitStatusResponse(unit=self._with_position(unit, datetime.now(UTC)))

    async def ReserveUnits(
        self, request: pb.ReserveUnitsRequest, context: Context
    ) -> pb.ReserveUnitsResponse:
        incident_id = convert.parse_name(request.incident, "incidents", "incident", max_len=32)
        trace.get_current_span().set_attribute(INCIDENT_ID, incident_id)
        unit_ids = _unit_ids(list(request.units), "units")
        units = await self._service.reserve(
            incident_id, unit_ids, request.request_id, actor_from(context)
        )
        now = datetime.now(UTC)
        return pb.ReserveUnitsResponse(units=[self._with_position(u, now) for u in units])

    async def ReleaseUnits(
        self, request: pb.ReleaseUnitsRequest, context: Context
    ) -> pb.ReleaseUnitsResponse:
        incident_id = convert.parse_name(request.incident, "incidents", "incident", max_len=32)
        trace.get_current_span().set_attribute(INCIDENT_ID, incident_id)
        unit_ids = _unit_ids(list(request.units), "units")
        units = await self._service.release(
            incident_id, unit_ids, request.request_id, request.reason, actor_from(context)
        )
        now = datetime.now(UTC)
        return pb.ReleaseUnitsResponse(units=[self._with_position(u, now) for u in units])

    def _check_report(self, request: pb.ReportPositionRequest, field: str) -> None:
        report = request.report
        convert.parse_name(report.unit, "units", f"{field}.unit")
        if not report.HasField("position"):
            raise InvalidInput([Violation(f"{field}.position", "required")])
        if not report.position.HasField("report_time"):
            raise InvalidInput([Violation(f"{field}.position.report_time", "required")])

    async def ReportPosition(
        self, request: pb.ReportPositionRequest, context: Context
    ) -> pb.ReportPositionResponse:
        self._check_report(request, "report")
        verdict = await self._avl.ingest(request.report)
        if verdict is Verdict.REJECTED:
            raise InvalidInput(
                [
                    Violation(
                        "report",
                        "rejected: unknown unit, coordinates out of range or a future time",
                    )
                ]
            )
        return pb.ReportPositionResponse(accepted=verdict is Verdict.ACCEPTED)

    async def ReportPositions(
        self, request_iterator: AsyncIterator[pb.ReportPositionRequest], context: Context
    ) -> pb.ReportPositionsResponse:
        counts = dict.fromkeys(Verdict, 0)
        async for request in request_iterator:
            try:
                self._check_report(request, "report")
            except InvalidInput:
                counts[Verdict.REJECTED] += 1
                continue
            counts[await self._avl.ingest(request.report)] += 1
        return pb.ReportPositionsResponse(
            accepted=counts[Verdict.ACCEPTED],
            dropped=counts[Verdict.DROPPED],
            rejected=counts[Verdict.REJECTED],
        )

    async def ListAgencies(
        self, request: pb.ListAgenciesRequest, context: Context
    ) -> pb.ListAgenciesResponse:
        return pb.ListAgenciesResponse(agencies=[convert.agency_to_proto(a) for a in AGENCIES])

    async def ListStations(
        self, request: pb.ListStationsRequest, context: Context
    ) -> pb.ListStationsResponse:
        out: list[Violation] = []
        agency = _enum(Agency, request.agency, "agency", out) if request.agency else None
        if out:
            raise InvalidInput(out)
        stations = await self._service.list_stations(agency)
        return pb.ListStationsResponse(stations=[convert.station_to_proto(s) for s in stations])

    async def ListHospitals(
        self, request: pb.ListHospitalsRequest, context: Context
    ) -> pb.ListHospitalsResponse:
        hospitals = await self._service.list_hospitals()
        return pb.ListHospitalsResponse(hospitals=[convert.hospital_to_proto(h) for h in hospitals])

    async def UpdateHospitalCapacity(
        self, request: pb.UpdateHospitalCapacityRequest, context: Context
    ) -> pb.UpdateHospitalCapacityResponse:
        h = request.hospital
        hospital_id = convert.parse_name(h.name, "hospitals", "hospital.name")
        out: list[Violation] = []
        diversion = _enum(Diversion, h.diversion or 1, "hospital.diversion", out)
        if out:
            raise InvalidInput(out)
        a = h.available
        available = Capacity(a.emergency_beds, a.icu, a.burn, a.trauma, a.pediatric)
        hospital = await self._service.update_capacity(
            hospital_id, available, diversion, h.etag, actor_from(context)
        )
        return pb.UpdateHospitalCapacityResponse(hospital=convert.hospital_to_proto(hospital))


def register(api: ResourceApi) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        pb_grpc.add_ResourceServiceServicer_to_server(api, server)

    return add


SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ResourceService"].full_name


# Domain errors the server answers through `to_rpc_error`.
DOMAIN_ERRORS: tuple[type[Exception], ...] = (ResourceError,)
