"""The gRPC face of the resources service."""

import functools
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from opentelemetry import trace

from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as pb
from icc.resource.v1 import resource_service_pb2_grpc as pb_grpc
from icc_kernel.clock import utc_now
from icc_kernel.errors import Forbidden, InvalidInput, Violation, raise_if_any
from icc_kernel.names import MAX_INCIDENT_ID, parse_name
from icc_kernel.vocabulary import Diversion
from icc_resources import convert
from icc_resources.avl import Avl, PositionView
from icc_resources.domain.avl import Verdict, position_violations
from icc_resources.domain.model import AGENCIES, Position, Unit, UnitFilter
from icc_resources.hospital_watch import HospitalWatch
from icc_resources.service import ResourceService
from icc_rpc import Context
from icc_rpc.authz import actor_of, scope
from icc_rpc.convert import (
    AGENCY,
    DIVERSION,
    UNIT_KIND,
    UNIT_STATUS,
    decode_page_token,
    page_of,
    page_size,
)
from icc_telemetry import INCIDENT_ID, UNIT_ID

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ResourceService"].full_name
add_servicer = pb_grpc.add_ResourceServiceServicer_to_server
MAX_PAGE = 5000
# The kind of page token ListUnits hands out.
LIST_UNITS = "ListUnits"


def _unit_id(name: str, field: str) -> str:
    unit_id = parse_name(name, "units", field)
    trace.get_current_span().set_attribute(UNIT_ID, unit_id)
    return unit_id


def _incident_and_units(incident: str, units: list[str]) -> tuple[str, list[str]]:
    """The ids a ReserveUnits or ReleaseUnits request names."""
    incident_id = parse_name(incident, "incidents", "incident", max_len=MAX_INCIDENT_ID)
    trace.get_current_span().set_attribute(INCIDENT_ID, incident_id)
    return incident_id, [parse_name(n, "units", f"units[{i}]") for i, n in enumerate(units)]


def _filter(request: pb.ListUnitsRequest, out: list[Violation]) -> UnitFilter:
    return UnitFilter(
        AGENCY.from_proto(request.agency, "agency", out),
        tuple(UNIT_STATUS.from_protos(request.statuses, "statuses", out)),
        tuple(UNIT_KIND.from_protos(request.kinds, "kinds", out)),
        (
            parse_name(request.home_station, "stations", "home_station")
            if request.home_station
            else None
        ),
    )


def _check_owns(unit: Unit) -> None:
    """Forbidden unless the call may act for this unit: a device for its own unit, a
    partner for its agency's units (the center and the systems for any)."""
    s = scope()
    if not s.owns_unit(unit.id, unit.agency):
        raise Forbidden(f"{unit.name} is not {s.principal.describe()}'s unit")


def _own_agency(flt: UnitFilter) -> UnitFilter:
    """A partner lists its own agency's units only."""
    s = scope()
    if s.agency is None:
        return flt
    if flt.agency not in (None, s.agency):
        raise Forbidden(f"{s.principal.describe()} may list only {s.agency.name} units")
    return replace(flt, agency=s.agency)


def _after(page_token: str, flt: UnitFilter) -> str:
    """The id of the previous page's last unit ("" for the first page)."""
    if not page_token:
        return ""
    return decode_page_token(page_token, LIST_UNITS, scope=flt).text(0)


class ResourceApi(pb_grpc.ResourceServiceServicer):
    def __init__(
        self, service: ResourceService, view: PositionView, avl: Avl, hospitals: HospitalWatch
    ) -> None:
        self._service = service
        self._hospital_watch = hospitals
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
        flt = _filter(request, out)
        size = page_size(request.page_size, default=500, most=MAX_PAGE, out=out)
        raise_if_any(out)
        flt = _own_agency(flt)
        units = await self._service.list_units(flt, size + 1, _after(request.page_token, flt))
        units, token = page_of(units, size, LIST_UNITS, lambda u: (u.id,), scope=flt)
        response = pb.ListUnitsResponse(next_page_token=token)
        now = utc_now()
        for unit in units:
            self._fill(response.units.add(), unit, now)
        return response

    async def GetUnit(self, request: pb.GetUnitRequest, context: Context) -> pb.GetUnitResponse:
        unit = await self._service.get_unit(_unit_id(request.name, "name"))
        _check_owns(unit)
        return pb.GetUnitResponse(unit=self._with_position(unit, utc_now()))

    async def UpdateUnitStatus(
        self, request: pb.UpdateUnitStatusRequest, context: Context
    ) -> pb.UpdateUnitStatusResponse:
        unit_id = _unit_id(request.name, "name")
        out: list[Violation] = []
        status = UNIT_STATUS.required(request.status, "status", out)
        raise_if_any(out)
        assert status is not None
        if scope().agency is not None:
            _check_owns(await self._service.get_unit(unit_id))
        unit = await self._service.update_status(
            unit_id, status, request.etag, request.reason, actor_of(context)
        )
        return pb.UpdateUnitStatusResponse(unit=self._with_position(unit, utc_now()))

    async def ReserveUnits(
        self, request: pb.ReserveUnitsRequest, context: Context
    ) -> pb.ReserveUnitsResponse:
        incident_id, unit_ids = _incident_and_units(request.incident, list(request.units))
        units = await self._service.reserve(
            incident_id, unit_ids, request.request_id, actor_of(context)
        )
        now = utc_now()
        return pb.ReserveUnitsResponse(units=[self._with_position(u, now) for u in units])

    async def ReleaseUnits(
        self, request: pb.ReleaseUnitsRequest, context: Context
    ) -> pb.ReleaseUnitsResponse:
        incident_id, unit_ids = _incident_and_units(request.incident, list(request.units))
        units = await self._service.release(
            incident_id, unit_ids, request.request_id, request.reason, actor_of(context)
        )
        now = utc_now()
        return pb.ReleaseUnitsResponse(units=[self._with_position(u, now) for u in units])

    def _check_report(self, request: pb.ReportPositionRequest, field: str) -> None:
        report = request.report
        unit_id = parse_name(report.unit, "units", f"{field}.unit")
        own = scope().unit
        if own is not None and unit_id != own:
            raise Forbidden(f"a device reports only its own unit's position (units/{own})")
        if not report.HasField("position"):
            raise InvalidInput.one(f"{field}.position", "required")
        if not report.position.HasField("report_time"):
            raise InvalidInput.one(f"{field}.position.report_time", "required")
        position = convert.position_from_proto(report.position)
        raise_if_any(position_violations(position, f"{field}.position"))

    async def ReportPosition(
        self, request: pb.ReportPositionRequest, context: Context
    ) -> pb.ReportPositionResponse:
        self._check_report(request, "report")
        verdict = await self._avl.ingest(request.report)
        if verdict is Verdict.REJECTED:
            raise InvalidInput.one(
                "report", "rejected: unknown unit, or a report time in the future"
            )
        return pb.ReportPositionResponse(accepted=verdict is Verdict.ACCEPTED)

    async def ReportPositions(
        self, request_iterator: AsyncIterator[pb.ReportPositionRequest], context: Context
    ) -> pb.ReportPositionsResponse:
        counts = dict.fromkeys(Verdict, 0)
        async for request in request_iterator:
            try:
                self._check_report(request, "report")  # Forbidden ends the stream
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
        agency = AGENCY.from_proto(request.agency, "agency", out)
        raise_if_any(out)
        stations = await self._service.list_stations(agency)
        return pb.ListStationsResponse(stations=[convert.station_to_proto(s) for s in stations])

    async def ListHospitals(
        self, request: pb.ListHospitalsRequest, context: Context
    ) -> pb.ListHospitalsResponse:
        hospitals = await self._service.list_hospitals()
        return pb.ListHospitalsResponse(hospitals=[convert.hospital_to_proto(h) for h in hospitals])

    async def WatchHospitals(
        self, request: pb.WatchHospitalsRequest, context: Context
    ) -> AsyncIterator[pb.WatchHospitalsResponse]:
        # The headers tell the caller the watch is live (no change made later is missed).
        subscribed = functools.partial(context.send_initial_metadata, ())
        async for item in self._hospital_watch.stream(subscribed):
            yield item

    async def UpdateHospitalCapacity(
        self, request: pb.UpdateHospitalCapacityRequest, context: Context
    ) -> pb.UpdateHospitalCapacityResponse:
        h = request.hospital
        hospital_id = parse_name(h.name, "hospitals", "hospital.name")
        own = scope().hospital
        if own is not None and hospital_id != own:
            raise Forbidden(f"a hospital updates only its own capacity (hospitals/{own})")
        out: list[Violation] = []
        diversion = DIVERSION.from_proto(h.diversion, "hospital.diversion", out) or Diversion.OPEN
        raise_if_any(out)
        hospital = await self._service.update_capacity(
            hospital_id,
            convert.capacity_from_proto(h.available),
            diversion,
            h.etag,
            actor_of(context),
        )
        return pb.UpdateHospitalCapacityResponse(hospital=convert.hospital_to_proto(hospital))
