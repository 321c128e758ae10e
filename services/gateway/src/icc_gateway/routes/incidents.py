"""Incidents: taking a call, reading one (with its chronology), correcting it, notes,
closing, cancelling, merging duplicates.

Callers' details and notes go only to the roles that may see them (domain/roles.py)."""

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from fastapi import Response
from google.protobuf.field_mask_pb2 import FieldMask

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc_gateway import convert, schemas
from icc_gateway.domain.roles import may_see_personal_data
from icc_gateway.errors import ApiError
from icc_gateway.routes.deps import (
    Acting,
    CallTaker,
    Dispatcher,
    IncidentId,
    Viewer,
    api_router,
    creates,
    incident_name,
    tag,
)
from icc_gateway.schemas_calltaking import MergeRequest, MergeResponse
from icc_kernel.names import id_of, name_of
from icc_kernel.vocabulary import Agency, CallLine
from icc_rpc import convert as edge
from icc_telemetry import INCIDENT_ID

router = api_router("incidents")
Answer = schemas.IncidentResponse
# At most 20 pages of 500: an incident's whole chronology.
_CHRONOLOGY_PAGES = 20


def answer_with(you: Acting, incident: incident_pb2.Incident) -> Answer:
    """The incident as `you` may see it (callers and answers only for some roles)."""
    return Answer(incident=_detail(you, incident))


def _detail(you: Acting, incident: incident_pb2.Incident) -> schemas.IncidentDetail:
    allowed = may_see_personal_data(you.user.role, convert.is_open(incident))
    return convert.incident_detail(incident, personal_data=allowed)


def key_answers(answers: Iterable[schemas.KeyAnswer]) -> list[incident_pb2.KeyAnswer]:
    return [incident_pb2.KeyAnswer(question=a.question, answer=a.answer) for a in answers]


class _HasIncident(Protocol):
    @property
    def incident(self) -> incident_pb2.Incident: ...


async def _incident(
    you: Acting, method: Callable[..., Awaitable[_HasIncident]], request: Any
) -> Answer:
    """Calls the incidents service and answers with the incident its reply holds."""
    reply = await you.call("incidents", method, request)
    return answer_with(you, reply.incident)


async def known_type(you: Acting, code: str | None) -> None:
    """400 naming `type_code` unless it is a code of the catalog (or none)."""
    if code is None:
        return
    unknown = await you.gw.catalog.unknown(code)
    if unknown is not None:
        raise ApiError.invalid([unknown])


def _new_incident(body: schemas.CreateIncidentRequest) -> incident_pb2.Incident:
    where = common_pb2.Location(lat=body.lat, lon=body.lon, address=body.address, ward=body.ward)
    incident = incident_pb2.Incident(
        type_code=body.type_code,
        priority=convert.request_priority(body.priority),
        location=where,
        description=body.description,
        exercise=body.exercise,
        answers=key_answers(body.answers),
    )
    if body.call_line is not None:
        incident.call_line = edge.CALL_LINE.to_proto(CallLine[body.call_line])
    if body.caller is not None:
        c = body.caller
        incident.caller.CopyFrom(
            incident_pb2.Caller(name=c.name, phone=c.phone, language=c.language)
        )
    return incident


@creates(router, "/incidents", Answer)
async def create_incident(
    body: schemas.CreateIncidentRequest, you: CallTaker, response: Response
) -> Answer:
    await known_type(you, body.type_code)
    request = incident_pb.CreateIncidentRequest(
        request_id=body.request_id, incident=_new_incident(body)
    )
    reply = await you.call("incidents", you.services.incidents.CreateIncident, request)
    tag(INCIDENT_ID, id_of(reply.incident.name))
    if reply.replayed:
        response.status_code = 200  # the same request_id again: the incident it made
    return answer_with(you, reply.incident)


@router.get("/incidents/{id}", response_model=Answer)
async def get_incident(incident_id: IncidentId, you: Viewer) -> Answer:
    request = incident_pb.GetIncidentRequest(name=incident_name(incident_id))
    return await _incident(you, you.services.incidents.GetIncident, request)


def _correction(
    name: str, body: schemas.UpdateIncidentRequest
) -> incident_pb.UpdateIncidentRequest:
    """The request's fields as an incident and the mask naming them."""
    incident = incident_pb2.Incident(name=name, etag=body.etag)
    mask: list[str] = []
    if body.type_code is not None:
        incident.type_code = body.type_code
        mask.append("type_code")
    if body.priority is not None:
        incident.priority = convert.request_priority(body.priority)
        mask.append("priority")
    if body.location is not None:
        where = body.location
        incident.location.CopyFrom(
            common_pb2.Location(
                lat=where.lat, lon=where.lon, address=where.address, ward=where.ward
            )
        )
        mask.append("location")
    if body.description is not None:
        incident.description = body.description
        mask.append("description")
    if body.agencies is not None:
        incident.agencies.extend(edge.AGENCY.to_protos(Agency[a] for a in body.agencies))
        mask.append("agencies")
    return incident_pb.UpdateIncidentRequest(incident=incident, update_mask=FieldMask(paths=mask))


@router.patch("/incidents/{id}", response_model=Answer)
async def update_incident(
    incident_id: IncidentId, body: schemas.UpdateIncidentRequest, you: CallTaker
) -> Answer:
    """Corrects the fields given (type, priority, location, description, agencies) of an
    open incident read at `etag`: 409 when it changed since (nothing is written then).
    Dispatch plans again by the new type, priority or place."""
    await known_type(you, body.type_code)
    request = _correction(incident_name(incident_id), body)
    return await _incident(you, you.services.incidents.UpdateIncident, request)


@router.get("/incidents/{id}/chronology", response_model=schemas.Chronology)
async def chronology(incident_id: IncidentId, you: Viewer) -> schemas.Chronology:
    name = incident_name(incident_id)
    entries: list[schemas.ChronologyEntry] = []
    token = ""
    for _ in range(_CHRONOLOGY_PAGES):
        request = incident_pb.ListChronologyRequest(parent=name, page_size=500, page_token=token)
        reply = await you.call("incidents", you.services.incidents.ListChronology, request)
        entries.extend(convert.chronology_entry(e) for e in reply.entries)
        token = reply.next_page_token
        if not token:
            break
    return schemas.Chronology(entries=entries)


@router.post("/incidents/{id}/notes", status_code=201, response_model=schemas.NoteResponse)
async def add_note(
    incident_id: IncidentId, body: schemas.NoteRequest, you: CallTaker
) -> schemas.NoteResponse:
    request = incident_pb.AddNoteRequest(parent=incident_name(incident_id), text=body.text)
    reply = await you.call("incidents", you.services.incidents.AddNote, request)
    return schemas.NoteResponse(note=convert.note(reply.note))


@router.post("/incidents/{id}/close", response_model=Answer)
async def close_incident(
    incident_id: IncidentId, body: schemas.CloseRequest, you: Dispatcher
) -> Answer:
    """Ends a handled incident; its units must have been released first (409 otherwise)."""
    request = incident_pb.CloseIncidentRequest(
        name=incident_name(incident_id), etag=body.etag or "", resolution=body.resolution
    )
    return await _incident(you, you.services.incidents.CloseIncident, request)


@router.post("/incidents/{id}/cancel", response_model=Answer)
async def cancel_incident(
    incident_id: IncidentId, body: schemas.CancelRequest, you: Dispatcher
) -> Answer:
    """Ends an incident that needed no response (a prank call, a false alarm)."""
    request = incident_pb.CancelIncidentRequest(
        name=incident_name(incident_id), etag=body.etag or "", reason=body.reason
    )
    return await _incident(you, you.services.incidents.CancelIncident, request)


@router.post("/incidents/{id}/merge", response_model=MergeResponse)
async def merge_incidents(
    incident_id: IncidentId, body: MergeRequest, you: Dispatcher
) -> MergeResponse:
    """Folds duplicate incidents (calls about the same event) into this one: they become
    MERGED, this one keeps the most urgent priority and every agency. A duplicate with
    units still assigned is 409: release them first."""
    request = incident_pb.MergeIncidentsRequest(
        name=incident_name(incident_id),
        duplicates=[name_of("incidents", d) for d in body.duplicates],
        reason=body.reason,
    )
    reply = await you.call("incidents", you.services.incidents.MergeIncidents, request)
    return MergeResponse(
        incident=_detail(you, reply.incident),
        duplicates=[_detail(you, d) for d in reply.duplicates],
    )
