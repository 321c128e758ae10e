"""The gRPC face of the incidents service: protobuf in, domain calls, protobuf out."""

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from opentelemetry import trace

from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.incident.v1 import incident_service_pb2_grpc as pb_grpc
from icc_incidents import convert
from icc_incidents.calltaking import CallTaking
from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.lifecycle import Draft
from icc_incidents.domain.model import Incident, IncidentFilter
from icc_incidents.places import PlaceSearch
from icc_incidents.service import IncidentService
from icc_incidents.transfers import EidoExchange, Imported
from icc_incidents.watch import IncidentWatch
from icc_kernel.errors import Forbidden, InvalidInput, NotFound, Violation, raise_if_any
from icc_kernel.names import id_of
from icc_kernel.principals import Kind, Scope
from icc_kernel.vocabulary import Agency, CallLine
from icc_rpc import Context
from icc_rpc.authz import actor_of, scope
from icc_rpc.convert import (
    AGENCY,
    INCIDENT_STATE,
    PRIORITY,
    decode_page_token,
    encode_page_token,
    optional_time,
    page_size,
)
from icc_telemetry import INCIDENT_ID

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["IncidentService"].full_name
add_servicer = pb_grpc.add_IncidentServiceServicer_to_server
MAX_PAGE = 500
# The kinds of page token this service hands out (the watch's cursors: watch.py).
LIST_INCIDENTS = "ListIncidents"
LIST_CHRONOLOGY = "ListChronology"
LIST_AUDIT = "ListAuditRecords"


def _tag(name: str) -> None:
    incident_id = name.partition("/")[2]
    if incident_id:
        trace.get_current_span().set_attribute(INCIDENT_ID, incident_id)


def _full(incident: Incident) -> incident_pb2.Incident:
    """An incident as this call's caller may see it: caller and notes only with the right
    to personal data (call-takers and up at the center, partner dispatchers)."""
    return convert.incident_to_proto(incident, personal_data=scope().personal_data)


def _unrestricted(s: Scope) -> bool:
    """Every incident is visible to the call: no agency's limits, drills included."""
    return s.agency is None and s.exercises


def check_visible(s: Scope, incident: Incident) -> None:
    """Forbidden unless the call's scope sees the incident."""
    if s.sees_incident(incident.involved, incident.exercise):
        return
    who = s.principal.describe()
    if incident.exercise and not s.exercises:
        raise Forbidden(f"{incident.name} is a drill, and {who} takes no part in exercises")
    agency = s.agency.name if s.agency else "its agency"
    raise Forbidden(f"{incident.name}: {agency} is not involved in it, so {who} may not")


# Fields only the command center changes: who is involved, and whether it is a drill.
_CENTER_FIELDS = ("agencies", "exercise")


def _incidents_after(page_token: str, flt: IncidentFilter) -> tuple[datetime, str] | None:
    """Where the previous page of this listing ended (None for the first page)."""
    if not page_token:
        return None
    page = decode_page_token(page_token, LIST_INCIDENTS, scope=flt)
    try:
        return datetime.fromisoformat(page.text(0)), page.text(1)
    except ValueError as exc:  # a token the service signed holds a time; checked all the same
        raise InvalidInput.one("page_token", "not one from a previous response") from exc


def _filter(request: pb.ListIncidentsRequest, out: list[Violation]) -> IncidentFilter:
    after = optional_time(request.create_time, "start_time", "create_time.start_time", out)
    before = optional_time(request.create_time, "end_time", "create_time.end_time", out)
    if after and before and after >= before:
        out.append(Violation("create_time", "start_time must be before end_time"))
    return IncidentFilter(
        tuple(INCIDENT_STATE.from_protos(request.states, "states", out)),
        AGENCY.from_proto(request.agency, "agency", out),
        tuple(PRIORITY.from_protos(request.priorities, "priorities", out)),
        after,
        before,
    )


class IncidentApi(pb_grpc.IncidentServiceServicer):
    def __init__(
        self,
        service: IncidentService,
        catalog: Catalog,
        watch: IncidentWatch,
        calls: CallTaking,
        places: PlaceSearch,
        exchange: EidoExchange,
    ) -> None:
        self._exchange = exchange
        self._service = service
        self._catalog = catalog
        self._watch = watch
        self._calls = calls
        self._places = places

    async def _answering(self, *answers: incident_pb2.Incident) -> None:
        """Records the personal data these answers hold, before they are sent: an
        answer whose record cannot be written is not given."""
        seen = [(id_of(a.name), f) for a in answers if (f := convert.personal_fields(a))]
        if seen:
            await self._service.record_reads(seen, scope().principal.actor())

    async def _visible(self, name: str) -> None:
        """Forbidden unless the call may see the incident (read first for partners only)."""
        s = scope()
        if not _unrestricted(s):
            check_visible(s, await self._service.get(name))

    def _may_transfer(self, draft: Draft) -> Draft:
        """A partner transferring a call in is involved in it: its agency joins the
        agencies the document names (or the type's)."""
        s = scope()
        if s.agency is not None and s.agency is not Agency.COMMAND_CENTER:
            kind = self._catalog.get(draft.type_code)
            agencies = draft.agencies or (kind.agencies if kind else ())
            if s.agency not in agencies:
                draft = replace(draft, agencies=(*agencies, s.agency))
        return self._may_create(draft)

    def _may_create(self, draft: Draft) -> Draft:
        """A partner creates only incidents its agency is involved in (as given or as
        the type's default), on the partner line unless it says; drills only by those
        taking part in exercises."""
        s = scope()
        if draft.exercise and not s.exercises:
            raise Forbidden(f"{s.principal.describe()} takes no part in exercises")
        if s.agency is None:
            return draft
        kind = self._catalog.get(draft.type_code) if draft.type_code else None
        agencies = draft.agencies or (kind.agencies if kind else ())
        if agencies and s.agency not in agencies:
            raise Forbidden(
                f"{s.principal.describe()} may create only incidents {s.agency.name} is "
                "involved in: add it to agencies"
            )
        if s.principal.kind is Kind.PARTNER and draft.call_line is None:
            return replace(draft, call_line=CallLine.PARTNER)
        return draft

    async def CreateIncident(
        self, request: pb.CreateIncidentRequest, context: Context
    ) -> pb.CreateIncidentResponse:
        out: list[Violation] = []
        draft = convert.draft_from_proto(request.incident, out)
        raise_if_any(out)
        draft = self._may_create(draft)
        incident, replayed = await self._service.create(
            draft, request.request_id, actor_of(context)
        )
        _tag(incident.name)
        answer = _full(incident)
        if replayed:  # a new incident's answer holds only what the caller just sent
            await self._answering(answer)
        return pb.CreateIncidentResponse(incident=answer, replayed=replayed)

    async def GetIncident(
        self, request: pb.GetIncidentRequest, context: Context
    ) -> pb.GetIncidentResponse:
        _tag(request.name)
        incident = await self._service.get(request.name)
        check_visible(scope(), incident)
        answer = _full(incident)
        await self._answering(answer)
        return pb.GetIncidentResponse(incident=answer)

    async def ListIncidents(
        self, request: pb.ListIncidentsRequest, context: Context
    ) -> pb.ListIncidentsResponse:
        out: list[Violation] = []
        flt = _filter(request, out)
        size = page_size(request.page_size, default=50, most=MAX_PAGE, out=out)
        raise_if_any(out)
        s = scope()
        flt = replace(flt, involving=s.agency, drills=s.exercises)
        after = _incidents_after(request.page_token, flt)
        found = await self._service.list_incidents(flt, size + 1, after)
        token = ""
        if len(found) > size:
            found, last = found[:size], found[size - 1]
            position = (last.create_time.isoformat(), last.id)
            token = encode_page_token(LIST_INCIDENTS, position, scope=flt)
        answers = [_full(i) for i in found]
        await self._answering(*answers)
        return pb.ListIncidentsResponse(incidents=answers, next_page_token=token)

    async def UpdateIncident(
        self, request: pb.UpdateIncidentRequest, context: Context
    ) -> pb.UpdateIncidentResponse:
        _tag(request.incident.name)
        out: list[Violation] = []
        patch = convert.draft_from_proto(request.incident, out)
        raise_if_any(out)
        await self._visible(request.incident.name)
        paths = set(request.update_mask.paths)
        if not scope().principal.center and paths.intersection(_CENTER_FIELDS):
            raise Forbidden("only the command center changes an incident's agencies or drill flag")
        incident = await self._service.update(
            request.incident.name,
            patch,
            list(request.update_mask.paths),
            request.incident.etag,
            actor_of(context),
        )
        answer = _full(incident)
        await self._answering(answer)
        return pb.UpdateIncidentResponse(incident=answer)

    async def AddNote(self, request: pb.AddNoteRequest, context: Context) -> pb.AddNoteResponse:
        _tag(request.parent)
        await self._visible(request.parent)
        note = await self._service.add_note(request.parent, request.text, actor_of(context))
        return pb.AddNoteResponse(note=convert.note_to_proto(id_of(request.parent), note))

    async def MergeIncidents(
        self, request: pb.MergeIncidentsRequest, context: Context
    ) -> pb.MergeIncidentsResponse:
        _tag(request.name)
        for name in (request.name, *request.duplicates):
            await self._visible(name)
        survivor, merged = await self._service.merge(
            request.name, list(request.duplicates), request.reason, actor_of(context)
        )
        answer, duplicates = _full(survivor), [_full(i) for i in merged]
        await self._answering(answer, *duplicates)
        return pb.MergeIncidentsResponse(incident=answer, duplicates=duplicates)

    async def CloseIncident(
        self, request: pb.CloseIncidentRequest, context: Context
    ) -> pb.CloseIncidentResponse:
        _tag(request.name)
        await self._visible(request.name)
        closed = await self._service.close(
            request.name, request.resolution, request.etag, actor_of(context)
        )
        answer = _full(closed)
        await self._answering(answer)
        return pb.CloseIncidentResponse(incident=answer)

    async def CancelIncident(
        self, request: pb.CancelIncidentRequest, context: Context
    ) -> pb.CancelIncidentResponse:
        _tag(request.name)
        await self._visible(request.name)
        cancelled = await self._service.cancel(
            request.name, request.reason, request.etag, actor_of(context)
        )
        answer = _full(cancelled)
        await self._answering(answer)
        return pb.CancelIncidentResponse(incident=answer)

    async def ListChronology(
        self, request: pb.ListChronologyRequest, context: Context
    ) -> pb.ListChronologyResponse:
        _tag(request.parent)
        out: list[Violation] = []
        size = page_size(request.page_size, default=100, most=MAX_PAGE, out=out)
        raise_if_any(out)
        await self._visible(request.parent)
        after = 0
        if request.page_token:
            page = decode_page_token(request.page_token, LIST_CHRONOLOGY, scope=request.parent)
            after = page.number(0)
        entries = await self._service.chronology(request.parent, size + 1, after)
        token = ""
        if len(entries) > size:
            entries = entries[:size]
            position = (entries[-1].sequence,)
            token = encode_page_token(LIST_CHRONOLOGY, position, scope=request.parent)
        return pb.ListChronologyResponse(
            entries=[convert.chronology_to_proto(e) for e in entries], next_page_token=token
        )

    async def ListIncidentTypes(
        self, request: pb.ListIncidentTypesRequest, context: Context
    ) -> pb.ListIncidentTypesResponse:
        out: list[Violation] = []
        agency = AGENCY.from_proto(request.agency, "agency", out)
        raise_if_any(out)
        return pb.ListIncidentTypesResponse(
            types=[convert.type_to_proto(t) for t in self._catalog.all(agency)]
        )

    async def WatchIncidents(
        self, request: pb.WatchIncidentsRequest, context: Context
    ) -> AsyncIterator[pb.WatchIncidentsResponse]:
        out: list[Violation] = []
        agencies = set(AGENCY.from_protos(request.agencies, "agencies", out))
        raise_if_any(out)
        # The headers tell the caller the watch is live (nothing published later is missed).
        subscribed = functools.partial(context.send_initial_metadata, ())
        if request.eido:
            async for item in self.eido_stream(request.cursor, subscribed, agencies):
                yield item
            return
        async for item in self._watch.stream(request.cursor, agencies, subscribed, scope()):
            yield item

    async def eido_stream(
        self, cursor: str, subscribed: Callable[[], Awaitable[None]], agencies: set[Agency]
    ) -> AsyncIterator[pb.WatchIncidentsResponse]:
        """The watch as EIDO documents, in the current call's scope (gRPC, WebSocket)."""
        s = scope()
        async for item in self._watch.stream(cursor, agencies, subscribed, s):
            action = item.WhichOneof("event") or ""
            name = getattr(item, action).incident.name
            try:
                incident = await self._service.get(name)
            except NotFound:
                continue  # gone since (never, today: incidents are not deleted)
            document = await self._exchange.export(incident, personal_data=s.personal_data)
            # Each document holds the persons and notes the incident would show this caller.
            await self._answering(_full(incident))
            yield pb.WatchIncidentsResponse(
                cursor=item.cursor,
                eido_document=json.dumps(document, ensure_ascii=False),
                eido_action=action,
            )

    # Call-taking

    async def SearchPlaces(
        self, request: pb.SearchPlacesRequest, context: Context
    ) -> pb.SearchPlacesResponse:
        near = convert.location_or_none(request, "near")
        found = await self._places.search(request.query, near, request.max_results)
        return pb.SearchPlacesResponse(places=[convert.place_to_proto(p) for p in found])

    async def FindPossibleDuplicates(
        self, request: pb.FindPossibleDuplicatesRequest, context: Context
    ) -> pb.FindPossibleDuplicatesResponse:
        found = await self._calls.find_duplicates(
            convert.location_or_none(request, "location"), request.type_code, request.caller_phone
        )
        return pb.FindPossibleDuplicatesResponse(
            duplicates=[convert.duplicate_to_proto(d) for d in found]
        )

    async def AddCaller(
        self, request: pb.AddCallerRequest, context: Context
    ) -> pb.AddCallerResponse:
        _tag(request.parent)
        out: list[Violation] = []
        caller = convert.caller_from_proto(request.caller, out)
        raise_if_any(out)
        await self._visible(request.parent)
        incident, replayed = await self._calls.add_caller(
            request.parent, caller, request.request_id, actor_of(context)
        )
        answer = _full(incident)
        await self._answering(answer)
        return pb.AddCallerResponse(incident=answer, replayed=replayed)

    async def CreateCaution(
        self, request: pb.CreateCautionRequest, context: Context
    ) -> pb.CreateCautionResponse:
        out: list[Violation] = []
        draft = convert.caution_draft_from_proto(request.caution, out)
        raise_if_any(out)
        caution, replayed = await self._calls.create_caution(
            draft, request.request_id, actor_of(context)
        )
        return pb.CreateCautionResponse(
            caution=convert.caution_to_proto(caution), replayed=replayed
        )

    async def ListCautions(
        self, request: pb.ListCautionsRequest, context: Context
    ) -> pb.ListCautionsResponse:
        out: list[Violation] = []
        most = page_size(request.max_results, default=20, most=100, out=out, field="max_results")
        raise_if_any(out)
        found = await self._calls.list_cautions(
            convert.location_or_none(request, "near"), request.radius_m, most
        )
        return pb.ListCautionsResponse(cautions=[convert.caution_to_proto(c) for c in found])

    async def GetPlaceHistory(
        self, request: pb.GetPlaceHistoryRequest, context: Context
    ) -> pb.GetPlaceHistoryResponse:
        found = await self._calls.place_history(convert.location_or_none(request, "near"))
        return pb.GetPlaceHistoryResponse(history=[convert.history_to_proto(h) for h in found])

    async def ListKeyQuestions(
        self, request: pb.ListKeyQuestionsRequest, context: Context
    ) -> pb.ListKeyQuestionsResponse:
        questions = self._calls.key_questions(request.type_code)
        return pb.ListKeyQuestionsResponse(
            questions=[convert.question_to_proto(q) for q in questions]
        )

    async def AnswerKeyQuestions(
        self, request: pb.AnswerKeyQuestionsRequest, context: Context
    ) -> pb.AnswerKeyQuestionsResponse:
        _tag(request.name)
        await self._visible(request.name)
        incident = await self._calls.answer_questions(
            request.name,
            convert.answers_from_proto(request.answers),
            request.etag,
            actor_of(context),
        )
        answer = _full(incident)
        await self._answering(answer)
        return pb.AnswerKeyQuestionsResponse(incident=answer)

    # Standards

    async def GetIncidentEido(
        self, request: pb.GetIncidentEidoRequest, context: Context
    ) -> pb.GetIncidentEidoResponse:
        _tag(request.name)
        incident = await self._service.get(request.name)
        s = scope()
        check_visible(s, incident)
        document = await self._exchange.export(incident, personal_data=s.personal_data)
        # The document holds the persons and notes the incident would show this caller.
        await self._answering(_full(incident))
        return pb.GetIncidentEidoResponse(document=json.dumps(document, ensure_ascii=False))

    async def ImportEido(
        self, request: pb.ImportEidoRequest, context: Context
    ) -> pb.ImportEidoResponse:
        imported = await self.import_document(request.document)
        _tag(imported.incident.name)
        answer = _full(imported.incident)
        if not imported.created:  # a new incident's answer holds only what was sent
            await self._answering(answer)
        return pb.ImportEidoResponse(
            name=imported.incident.name,
            created=imported.created,
            replayed=imported.replayed,
            incident=answer,
        )

    async def import_document(self, text: str) -> Imported:
        """ImportEido in the current call's scope (gRPC, WebSocket)."""
        return await self._exchange.import_document(
            text,
            scope().principal.actor(),
            may_create=self._may_transfer,
            may_change=lambda incident: check_visible(scope(), incident),
        )

    # Audit

    async def ListAuditRecords(
        self, request: pb.ListAuditRecordsRequest, context: Context
    ) -> pb.ListAuditRecordsResponse:
        _tag(request.parent)
        out: list[Violation] = []
        size = page_size(request.page_size, default=100, most=MAX_PAGE, out=out)
        raise_if_any(out)
        after = 0
        if request.page_token:
            page = decode_page_token(request.page_token, LIST_AUDIT, scope=request.parent)
            after = page.number(0)
        records = await self._service.audit(request.parent, size + 1, after)
        token = ""
        if len(records) > size:
            records = records[:size]
            token = encode_page_token(LIST_AUDIT, (records[-1].sequence,), scope=request.parent)
        return pb.ListAuditRecordsResponse(
            records=[convert.audit_to_proto(r) for r in records], next_page_token=token
        )
