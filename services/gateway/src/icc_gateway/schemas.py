"""Request and response bodies of the HTTP API, named as in API.md (OpenAPI from these).

Each shape is declared once. The picture's items (Incident, Unit, Hospital, ...) and the
KPIs are the domain's own (domain/model.py, domain/kpi_model.py): the answers below are
built from them and from the services' messages (convert.py), and serialized as they are.

Requests say in the OpenAPI document every rule they are held to (lengths, patterns,
ranges, enums), so that a client made from the document sends what is accepted; a request
that breaks one is refused (400) with a sentence naming the field and the rule.
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from icc_gateway.domain.model import Id, Incident, IncidentAssignment, Shape, Snapshot, Unit
from icc_gateway.domain.names import (
    AgencyName,
    CallLineName,
    CautionKindName,
    DuplicateReasonName,
    EtaSourceName,
    IncidentStateName,
    ReasonCodeName,
    UnitKindName,
    UnitStatusName,
)
from icc_gateway.domain.roles import User
from icc_gateway.fields import Body, Lat, Lon, RefId, RequestId, Text, TypeCode, each_once
from icc_kernel.vocabulary import Priority

DispatchState = Literal["AWAITING_DISPATCHER", "QUEUED", "COMPLETE", "ENDED"]


# Errors


class ErrorField(Shape):
    field: str
    description: str


ErrorCode = Literal[
    "invalid_argument",
    "unauthenticated",
    "permission_denied",
    "not_found",
    "conflict",
    "unavailable",
    "internal",
    "method_not_allowed",
    "resource_exhausted",
]


class ErrorDetail(Shape):
    code: ErrorCode
    message: str
    fields: list[ErrorField] = Field(default_factory=list)


class ErrorResponse(Shape):
    error: ErrorDetail


# Accounts


class LoginRequest(Body):
    username: Annotated[str, Text(64, required=True)]
    password: str = Field(min_length=1, max_length=200)


class SessionResponse(Shape):
    user: User


# Reference data


class IncidentType(Shape):
    code: str
    label_vi: str
    label_en: str
    agencies: list[AgencyName]
    priority: Priority | None
    family: str
    keywords_vi: list[str]


class IncidentTypes(Shape):
    types: list[IncidentType]


class Station(Shape):
    id: Id
    name: str
    agency: AgencyName | None
    lat: float
    lon: float


class Stations(Shape):
    stations: list[Station]


# The picture


class Picture(Snapshot):
    server_time: str = Field(description="The gateway's clock when this was sent (ISO 8601)")


# Incidents


class CallerIn(Body):
    name: Annotated[str, Text(200)] = ""
    phone: Annotated[str, Text(21, phone=True)] = ""
    language: Annotated[str, Text(35)] = ""


Address = Annotated[str, Text(500)]
Ward = Annotated[str, Text(100)]
Description = Annotated[str, Text(2000)]
Priority14 = Annotated[int, Field(ge=1, le=4)]


class KeyAnswer(Body):
    """An answer to a key question (GET /api/v1/key-questions)."""

    question: Annotated[str, Text(64, required=True)] = Field(description="A question's `id`")
    answer: Annotated[str, Text(32, required=True)] = Field(
        description="One of the question's `options[].value`"
    )


# At most 20 (the incidents service's limit), each question of the type's family once.
KeyAnswers = Annotated[list[KeyAnswer], Field(max_length=20)]


class CreateIncidentRequest(Body):
    request_id: RequestId = Field(
        description="Client-chosen idempotency key: the same id again returns the same incident",
    )
    type_code: TypeCode
    priority: Priority14 | None = Field(
        None, description="None: the type's, or the most urgent the answers call for"
    )
    lat: Lat
    lon: Lon
    address: Address = ""
    ward: Ward = ""
    description: Description = ""
    caller: CallerIn | None = None
    exercise: bool = False
    call_line: CallLineName | None = Field(
        None,
        description="The line the call came in on; none: the line the account's agency answers",
    )
    answers: KeyAnswers = Field(
        default_factory=list,
        description="Answers to the type's key questions: they set the priority (unless "
        "`priority` is given) and may change the type; a question of another family is 422",
    )


class Actor(Shape):
    user: str
    agency: AgencyName | None
    role: str


class Reason(Shape):
    """A fact as a code with parameters, for a screen to put into its reader's language
    (docs/codes.md: each code's parameters, and its English and Vietnamese)."""

    code: ReasonCodeName = Field(description="`icc.common.v1.ReasonCode` less its prefix")
    params: dict[str, str]


class Caller(Shape):
    name: str
    phone: str
    language: str
    call_time: str | None
    call_line: CallLineName | None


class Note(Shape):
    id: Id
    text: str
    author: str
    create_time: str | None


class PossibleDuplicate(Shape):
    """An incident a call may be about (no personal data)."""

    incident: Id
    reasons: list[DuplicateReasonName] = Field(
        description="NEARBY: the same family near and recently active; SAME_PHONE: a caller "
        "of it called from the same number"
    )
    distance_m: float = Field(description="From the call's place (0 without one)")
    type_code: str
    state: IncidentStateName | None
    create_time: str | None
    summary: str = Field(description="One line in English; a screen builds its own")


class Caution(Shape):
    """A premise caution: a danger at an address or within `radius_m` of a point."""

    id: Id
    kind: CautionKindName | None
    text: str
    lat: float
    lon: float
    address: str
    ward: str
    radius_m: float
    valid_until: str | None
    created_by: Actor | None
    create_time: str | None


class PlaceHistory(Shape):
    family: str = Field(description="POLICE, FIRE_RESCUE, MEDICAL, TRAFFIC or FLOOD")
    count: int
    days: int = Field(description="Counted this many days back")


class IncidentDetail(Incident):
    caller: Caller | None = Field(description="Only for roles allowed to see it, else null")
    notes: list[Note]
    resolution: str
    merged_into: Id | None
    possible_duplicates: list[PossibleDuplicate] = Field(
        description="What the call may have repeated when it was created anyway"
    )
    cautions: list[Caution] = Field(description="In force at its place when it was created")
    history: list[PlaceHistory] = Field(description="Earlier incidents near it, by family")
    # Personal data like `caller` (how a patient breathes): for the same roles, else empty.
    answers: list[KeyAnswer]
    instructions: list[str] = Field(description="What the answers told the call-taker to say")
    additional_callers: list[Caller]


class IncidentResponse(Shape):
    incident: IncidentDetail


class LocationIn(Body):
    lat: Lat
    lon: Lon
    address: Address = ""
    ward: Ward = ""


class UpdateIncidentRequest(Body):
    """A correction: only the fields given change (null or absent: unchanged)."""

    etag: Annotated[str, Text(64, required=True)] = Field(
        description="The incident's etag as last read: a newer one is 409, nothing changed"
    )
    type_code: TypeCode | None = None
    priority: Priority14 | None = None
    location: LocationIn | None = Field(None, description="Replaced as a whole")
    description: Description | None = None
    agencies: list[AgencyName] | None = Field(
        None, min_length=1, max_length=5, description="Lead agency first"
    )


class IncidentList(Shape):
    incidents: list[Incident] = Field(description="Newest first")
    scanned: int = Field(description="Incidents of the time range looked at")
    complete: bool = Field(
        description="False when the time range holds more incidents than one search looks "
        "at (the newest were): narrow it"
    )


class ChronologyEntry(Shape):
    sequence: int
    time: str | None
    actor: Actor
    action: str
    detail: str = Field(description="Deprecated: `coded_detail` in English words")
    coded_detail: list[Reason] = Field(description="What the entry records, in order")


class Chronology(Shape):
    entries: list[ChronologyEntry]


class NoteRequest(Body):
    text: Annotated[str, Text(4000, required=True)]


class NoteResponse(Shape):
    note: Note


Etag = Annotated[
    str | None,
    Text(64),
    Field(description="The incident's etag as last read: a newer one is 409 (none: no check)"),
]


class CloseRequest(Body):
    resolution: Annotated[str, Text(1000)]
    etag: Etag = None


class CancelRequest(Body):
    reason: Annotated[str, Text(1000, required=True)]
    etag: Etag = None


# Dispatch


class Assignment(IncidentAssignment):
    incident: Id
    role: str
    eta_s: int = Field(description="The ETA when the unit was chosen (0: no route known)")
    distance_m: int = Field(description="Road distance when the unit was chosen")
    eta_source: EtaSourceName | None
    acknowledge_deadline: str | None
    acknowledge_time: str | None
    override: bool
    override_reason: str
    release_reason: str = Field(description="Deprecated: `coded_release_reason` in English")
    coded_release_reason: Reason | None
    assigned_by: Actor | None
    destination_hospital: Id | None = Field(
        description="Where a transporting unit takes its patient (a hospital id; null for "
        "other units, or when no hospital was known)"
    )


class Shortfall(Shape):
    role: str
    agency: AgencyName | None
    missing: int
    coded_reason: Reason | None = Field(
        description="AWAITING_DISPATCHER: a decision waits, not a shortage of units"
    )


class DispatchStatus(Shape):
    state: DispatchState | None
    assignments: list[Assignment]
    waiting: bool = Field(description="Auto-dispatch waits for units to free up")
    mutual_aid: bool = Field(description="A unit of another agency fills a role of the plan")
    shortfalls: list[Shortfall]
    awaiting_decision: bool = Field(
        description="A P3/P4 whose plan has roles a dispatcher has yet to fill"
    )
    awaiting_since: str | None = Field(description="Since when that decision waits")


class PlanItem(Shape):
    role: str
    agency: AgencyName | None
    kinds: list[UnitKindName]
    count: int
    first: bool
    label_vi: str
    label_en: str


class Plan(Shape):
    type_code: str
    priority: Priority | None
    items: list[PlanItem]


class Candidate(Shape):
    unit: Id
    call_sign: str
    agency: AgencyName | None
    kind: UnitKindName | None
    role: str
    eta_s: int
    distance_m: int
    rank: int
    reasons: list[str] = Field(description="Deprecated: `coded_reasons` in English words")
    coded_reasons: list[Reason]
    home_station: Id | None
    selected: bool
    mutual_aid: bool
    beyond_mutual_aid_eta: bool = Field(description="Its ETA is beyond the mutual-aid threshold")


class Recommendation(Shape):
    plan: Plan
    candidates: list[Candidate]
    shortfalls: list[Shortfall]
    eta_source: str = Field(description="Deprecated: `eta_source_code` as text")
    eta_source_code: EtaSourceName | None
    mutual_aid_eta_s: int = Field(description="The mutual-aid threshold the candidates met")


class AvailableUnits(Shape):
    """Every available unit (of the kinds and agencies asked for) by ETA, for an override."""

    candidates: list[Candidate] = Field(description="Nearest by ETA first; no route last")
    eta_source_code: EtaSourceName | None
    mutual_aid_eta_s: int = Field(
        description="Beyond this ETA a unit is mutual aid (ICC_DISPATCH_MUTUAL_AID_ETA_S)"
    )


# Units named by a request: each once, at most 20 (dispatch's limit per request).
UnitIds = Annotated[
    list[RefId],
    Field(max_length=20, json_schema_extra={"uniqueItems": True}),
    AfterValidator(each_once("a unit")),
]


class AssignRequest(Body):
    units: Annotated[UnitIds, Field(min_length=1)]
    override_reason: Annotated[str, Text(500)] = Field(
        "",
        description="Required (422 naming it otherwise) when a unit was not recommended",
    )
    request_id: RequestId | None = None


class ReleaseRequest(Body):
    units: UnitIds = Field(default_factory=list, description="None: every unit of the incident")
    reason: Annotated[str, Text(500, required=True)]


class AssignmentsResponse(Shape):
    assignments: list[Assignment]


class AssignmentResponse(Shape):
    assignment: Assignment


class UnitStatusRequest(Body):
    status: UnitStatusName
    reason: Annotated[str, Text(500)] = ""


class UnitResponse(Shape):
    unit: Unit


# Traces

# The steps of an incident's life its spans are grouped by (the trace sink's timeline);
# `reads`: the screen's own reads, when asked for.
TraceStep = Literal[
    "intake", "decision", "reservation", "acknowledgement", "on_scene", "other", "reads"
]


class TraceSpan(Shape):
    trace_id: str
    service: str
    operation: str
    start_ms: float
    duration_ms: float
    depth: int
    error: bool
    step: TraceStep


class TraceStepSummary(Shape):
    step: TraceStep
    start_ms: float
    end_ms: float
    spans: int


class Trace(Shape):
    spans: list[TraceSpan] = Field(description="By step, in the order of the incident's life")
    steps: list[TraceStepSummary] = Field(description="Each step's spans and time span, in order")
    reads_hidden: int = Field(description="Traces of the screen's own reads left out")


class Health(Shape):
    status: str
