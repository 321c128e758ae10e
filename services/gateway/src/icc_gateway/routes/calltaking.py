"""Call-taking: finding the place a caller names, the incidents a call may repeat and
attaching another caller to one, premise cautions and a place's history, the key
questions of a type and answers to them.

Call takers and above use them (a supervisor also enters cautions); the key questions
are reference data any role reads. A caller's phone is sent in a body, never in a URL
(addresses are logged and traced).
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Response
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc_gateway import convert, schemas
from icc_gateway import schemas_calltaking as calls
from icc_gateway.routes.deps import (
    CallTaker,
    IncidentId,
    Supervisor,
    Viewer,
    api_router,
    creates,
    incident_name,
    tag,
)
from icc_gateway.routes.incidents import answer_with, key_answers, known_type
from icc_kernel.names import id_of
from icc_kernel.vocabulary import CallLine, CautionKind
from icc_rpc.convert import CALL_LINE, CAUTION_KIND
from icc_telemetry import INCIDENT_ID

router = api_router("call-taking")


def _point(lat: float, lon: float) -> common_pb2.Location:
    return common_pb2.Location(lat=lat, lon=lon)


@router.get("/places", response_model=calls.Places)
async def search_places(
    query: Annotated[calls.PlaceSearch, Query()], you: CallTaker
) -> calls.Places:
    """Places matching what a caller said (wards, former districts, landmarks, markets,
    schools, hospitals, stations, bridges, streets), diacritics and small typos forgiven,
    best match first and, among equals, nearest the map's centre."""
    near = query.lat is not None and query.lon is not None
    request = incident_pb.SearchPlacesRequest(query=query.q, max_results=query.max_results)
    if near:
        request.near.CopyFrom(_point(query.lat or 0.0, query.lon or 0.0))
    reply = await you.call("incidents", you.services.incidents.SearchPlaces, request)
    return calls.Places(places=[convert.place(p, near=near) for p in reply.places])


@router.post("/possible-duplicates", response_model=calls.Duplicates)
async def possible_duplicates(body: calls.DuplicatesRequest, you: CallTaker) -> calls.Duplicates:
    """Incidents the call being taken may be about: the same family nearby and recently
    active, or a caller of the same phone at any distance. A POST so that the phone stays
    out of the URL; it changes nothing."""
    await known_type(you, body.type_code)
    request = incident_pb.FindPossibleDuplicatesRequest(
        type_code=body.type_code or "", caller_phone=body.caller_phone
    )
    if body.location is not None:
        request.location.CopyFrom(_point(body.location.lat, body.location.lon))
    reply = await you.call("incidents", you.services.incidents.FindPossibleDuplicates, request)
    return calls.Duplicates(duplicates=[convert.possible_duplicate(d) for d in reply.duplicates])


@creates(router, "/incidents/{id}/callers", schemas.IncidentResponse)
async def add_caller(
    incident_id: IncidentId, body: calls.AddCallerRequest, you: CallTaker, response: Response
) -> schemas.IncidentResponse:
    """Attaches another caller to an incident: a caller entry and a chronology line, no
    new incident and no new dispatch."""
    caller = incident_pb2.Caller(name=body.name, phone=body.phone, language=body.language)
    if body.call_line is not None:
        caller.call_line = CALL_LINE.to_proto(CallLine[body.call_line])
    request = incident_pb.AddCallerRequest(
        parent=incident_name(incident_id), caller=caller, request_id=body.request_id
    )
    reply = await you.call("incidents", you.services.incidents.AddCaller, request)
    if reply.replayed:
        response.status_code = 200
    return answer_with(you, reply.incident)


def _timestamp(when: datetime) -> Timestamp:
    """`when` as a Timestamp (UTC when it has no zone); a time no Timestamp can hold is
    kept as its nearest (the service then refuses it as past or too far ahead)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    out = Timestamp()
    try:
        out.FromDatetime(aware.astimezone(UTC))
    except (OverflowError, ValueError):
        out.FromDatetime(datetime.max.replace(tzinfo=UTC) if when.year > 1 else datetime.min)
    if out.seconds <= 0:
        out.seconds, out.nanos = 1, 0  # 0 would mean "unset": a year from now
    return out


@creates(router, "/cautions", calls.CautionResponse)
async def create_caution(
    body: calls.CautionRequest, you: Supervisor, response: Response
) -> calls.CautionResponse:
    """Enters a premise caution (supervisors): who entered it is the signed-in user."""
    caution = incident_pb2.Caution(
        kind=CAUTION_KIND.to_proto(CautionKind[body.kind]),
        text=body.text,
        location=common_pb2.Location(
            lat=body.lat, lon=body.lon, address=body.address, ward=body.ward
        ),
        radius_m=body.radius_m,
    )
    if body.valid_until is not None:
        caution.valid_until.CopyFrom(_timestamp(body.valid_until))
    request = incident_pb.CreateCautionRequest(request_id=body.request_id, caution=caution)
    reply = await you.call("incidents", you.services.incidents.CreateCaution, request)
    if reply.replayed:
        response.status_code = 200
    return calls.CautionResponse(caution=convert.caution(reply.caution))


@router.get("/cautions", response_model=calls.Cautions)
async def list_cautions(
    query: Annotated[calls.CautionSearch, Query()], you: CallTaker
) -> calls.Cautions:
    """The cautions in force at a point, or whose area lies within `radius_m` of it."""
    request = incident_pb.ListCautionsRequest(
        near=_point(query.lat, query.lon),
        radius_m=query.radius_m,
        max_results=query.max_results,
    )
    reply = await you.call("incidents", you.services.incidents.ListCautions, request)
    return calls.Cautions(cautions=[convert.caution(c) for c in reply.cautions])


@router.get("/place-history", response_model=calls.History)
async def place_history(
    query: Annotated[calls.PointQuery, Query()], you: CallTaker
) -> calls.History:
    """How many incidents there were near a point lately, by family."""
    request = incident_pb.GetPlaceHistoryRequest(near=_point(query.lat, query.lon))
    reply = await you.call("incidents", you.services.incidents.GetPlaceHistory, request)
    return calls.History(history=[convert.place_history(h) for h in reply.history])


@router.get("/key-questions", response_model=calls.KeyQuestions)
async def key_questions(
    query: Annotated[calls.QuestionsQuery, Query()], you: Viewer
) -> calls.KeyQuestions:
    """The key questions of a type, in the order to ask them, and what each answer does."""
    await known_type(you, query.type_code)
    request = incident_pb.ListKeyQuestionsRequest(type_code=query.type_code)
    reply = await you.call("incidents", you.services.incidents.ListKeyQuestions, request)
    return calls.KeyQuestions(
        type_code=query.type_code, questions=[convert.key_question(q) for q in reply.questions]
    )


@router.post("/incidents/{id}/answers", response_model=schemas.IncidentResponse)
async def answer_questions(
    incident_id: IncidentId, body: calls.AnswersRequest, you: CallTaker
) -> schemas.IncidentResponse:
    """Answers given after the call became an incident: they may change its priority and
    type (dispatch re-plans on the update)."""
    request = incident_pb.AnswerKeyQuestionsRequest(
        name=incident_name(incident_id), etag=body.etag or "", answers=key_answers(body.answers)
    )
    reply = await you.call("incidents", you.services.incidents.AnswerKeyQuestions, request)
    tag(INCIDENT_ID, id_of(reply.incident.name))
    return answer_with(you, reply.incident)
