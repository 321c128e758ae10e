"""The gRPC face of the incidents service: protobuf in, domain calls, protobuf out."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import grpc
from opentelemetry import trace

from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_incidents import convert, store
from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.errors import (
    IllegalTransition,
    IncidentError,
    InvalidInput,
    NotFound,
    StaleEtag,
    Violation,
)
from icc_incidents.domain.model import Actor, Agency, IncidentState
from icc_incidents.service import IncidentService
from icc_incidents.watch import IncidentWatch
from icc_rpc import FieldViolation, RpcError
from icc_rpc.identity import caller_of
from icc_telemetry import INCIDENT_ID

Context = grpc.aio.ServicerContext[Any, Any]

MAX_PAGE = 500


def to_rpc_error(exc: Exception) -> RpcError:
    """The one place where domain errors become gRPC status."""
    if isinstance(exc, InvalidInput):
        return RpcError.invalid([FieldViolation(v.field, v.description) for v in exc.violations])
    if isinstance(exc, NotFound):
        return RpcError(grpc.StatusCode.NOT_FOUND, str(exc), reason="NOT_FOUND")
    if isinstance(exc, StaleEtag):
        return RpcError(grpc.StatusCode.ABORTED, str(exc), reason="ETAG_MISMATCH")
    if isinstance(exc, store.ConcurrentChange):
        return RpcError(grpc.StatusCode.ABORTED, str(exc), reason="CONCURRENT_CHANGE")
    if isinstance(exc, IllegalTransition):
        return RpcError(grpc.StatusCode.FAILED_PRECONDITION, str(exc), reason="ILLEGAL_TRANSITION")
    raise exc


def actor_from(context: Context) -> Actor:
    caller = caller_of(context)
    return Actor(user=caller.user, agency=Agency[caller.agency], role=caller.role)


def page_size(value: int, default: int, field: str = "page_size") -> int:
    if value < 0:
        raise InvalidInput([Violation(field, "must not be negative")])
    return min(value or default, MAX_PAGE)


def _time(rng: Any, field: str, out: list[Violation]) -> datetime | None:
    if not rng.HasField(field):
        return None
    try:
        value: datetime = getattr(rng, field).ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        out.append(Violation(f"create_time.{field}", "not a valid time"))
        return None
    return value


def _tag(name: str) -> None:
    incident_id = name.partition("/")[2]
    if incident_id:
        trace.get_current_span().set_attribute(INCIDENT_ID, incident_id)


class IncidentApi(pb_grpc.IncidentServiceServicer):
    def __init__(self, service: IncidentService, catalog: Catalog, watch: IncidentWatch) -> None:
        self._service = service
        self._catalog = catalog
        self._watch = watch

    async def CreateIncident(
        self, request: pb.CreateIncidentRequest, context: Context
    ) -> pb.CreateIncidentResponse:
        out: list[Violation] = []
        draft = convert.draft_from_proto(request.incident, out)
        if out:
            raise InvalidInput(out)
        incident, replayed = await self._service.create(
            draft, request.request_id, actor_from(context)
        )
        _tag(incident.name)
        return pb.CreateIncidentResponse(
            incident=convert.incident_to_proto(incident, personal_data=True), replayed=replayed
        )

    async def GetIncident(
        self, request: pb.GetIncidentRequest, context: Context
    ) -> pb.GetIncidentResponse:
        _tag(request.name)
        incident = await self._service.get(request.name)
        return pb.GetIncidentResponse(
            incident=convert.incident_to_proto(incident, personal_data=True)
        )

    async def ListIncidents(
        self, request: pb.ListIncidentsRequest, context: Context
    ) -> pb.ListIncidentsResponse:
        out: list[Violation] = []
        states = []
        for n, state in enumerate(request.states):
            try:
                states.append(IncidentState(state))
            except ValueError:
                out.append(Violation(f"states[{n}]", f"unknown state {state}"))
        priorities = []
        for n, priority in enumerate(request.priorities):
            p = convert.priority_from_proto(priority, f"priorities[{n}]", out)
            if p is not None:
                priorities.append(p)
        agency = convert.agency_from_proto(request.agency, "agency", out)
        size = page_size(request.page_size, 50)
        rng = request.create_time
        after = _time(rng, "start_time", out)
        before = _time(rng, "end_time", out)
        if after and before and after >= before:
            out.append(Violation("create_time", "start_time must be before end_time"))
        if out:
            raise InvalidInput(out)
        flt = store.IncidentFilter(tuple(states), agency, tuple(priorities), after, before)
        found, token = await self._service.list_incidents(flt, size, request.page_token)
        return pb.ListIncidentsResponse(
            incidents=[convert.incident_to_proto(i, personal_data=True) for i in found],
            next_page_token=token,
        )

    async def UpdateIncident(
        self, request: pb.UpdateIncidentRequest, context: Context
    ) -> pb.UpdateIncidentResponse:
        _tag(request.incident.name)
        out: list[Violation] = []
        patch = convert.draft_from_proto(request.incident, out)
        if out:
            raise InvalidInput(out)
        incident = await self._service.update(
            request.incident.name,
            patch,
            list(request.update_mask.paths),
            request.incident.etag,
            actor_from(context),
        )
        return pb.UpdateIncidentResponse(
            incident=convert.incident_to_proto(incident, personal_data=True)
        )

    async def AddNote(self, request: pb.AddNoteRequest, context: Context) -> pb.AddNoteResponse:
        _tag(request.parent)
        note = await self._service.add_note(request.parent, request.text, actor_from(context))
        incident_id = request.parent.partition("/")[2]
        return pb.AddNoteResponse(note=convert.note_to_proto(incident_id, note))

    async def MergeIncidents(
        self, request: pb.MergeIncidentsRequest, context: Context
    ) -> pb.MergeIncidentsResponse:
        _tag(request.name)
        survivor, merged = await self._service.merge(
            request.name, list(request.duplicates), request.reason, actor_from(context)
        )
        return pb.MergeIncidentsResponse(
            incident=convert.incident_to_proto(survivor, personal_data=True),
            duplicates=[convert.incident_to_proto(i, personal_data=True) for i in merged],
        )

    async def CloseIncident(
        self, request: pb.CloseIncidentRequest, context: Context
    ) -> pb.CloseIncidentResponse:
        _tag(request.name)
        incident = await self._service.close(
            request.name, request.resolution, request.etag, actor_from(context)
        )
        return pb.CloseIncidentResponse(
            incident=convert.incident_to_proto(incident, personal_data=True)
        )

    async def CancelIncident(
        self, request: pb.CancelIncidentRequest, context: Context
    ) -> pb.CancelIncidentResponse:
        _tag(request.name)
        incident = await self._service.cancel(
            request.name, request.reason, request.etag, actor_from(context)
        )
        return pb.CancelIncidentResponse(
            incident=convert.incident_to_proto(incident, personal_data=True)
        )

    async def ListChronology(
        self, request: pb.ListChronologyRequest, context: Context
    ) -> pb.ListChronologyResponse:
        _tag(request.parent)
        entries, token = await self._service.chronology(
            request.parent, page_size(request.page_size, 100), request.page_token
        )
        return pb.ListChronologyResponse(
            entries=[convert.chronology_to_proto(e) for e in entries], next_page_token=token
        )

    async def ListIncidentTypes(
        self, request: pb.ListIncidentTypesRequest, context: Context
    ) -> pb.ListIncidentTypesResponse:
        out: list[Violation] = []
        agency = convert.agency_from_proto(request.agency, "agency", out)
        if out:
            raise InvalidInput(out)
        return pb.ListIncidentTypesResponse(
            types=[convert.type_to_proto(t) for t in self._catalog.all(agency)]
        )

    async def WatchIncidents(
        self, request: pb.WatchIncidentsRequest, context: Context
    ) -> AsyncIterator[pb.WatchIncidentsResponse]:
        out: list[Violation] = []
        agencies: set[Agency] = set()
        for n, agency_value in enumerate(request.agencies):
            a = convert.agency_from_proto(agency_value, f"agencies[{n}]", out)
            if a is not None:
                agencies.add(a)
        if out:
            raise InvalidInput(out)
        async for item in self._watch.stream(request.cursor, agencies):
            yield item


def register(api: IncidentApi) -> Callable[[grpc.aio.Server], None]:
    def add(server: grpc.aio.Server) -> None:
        pb_grpc.add_IncidentServiceServicer_to_server(api, server)

    return add


SERVICE_NAME = pb.DESCRIPTOR.services_by_name["IncidentService"].full_name


# Domain errors the server answers through `to_rpc_error`.
DOMAIN_ERRORS: tuple[type[Exception], ...] = (IncidentError, store.ConcurrentChange)
