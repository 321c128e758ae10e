"""Request and response bodies of the HTTP API, named as in API.md (OpenAPI from these).

Each shape is declared once. The picture's items (Incident, Unit, Hospital, ...) and the
KPIs are the domain's own (domain/model.py, domain/kpi_model.py): the answers below are
built from them and from the services' messages (convert.py), and serialized as they are.

Requests say in the OpenAPI document every rule they are held to (lengths, patterns,
ranges, enums), so that a client made from the document sends what is accepted; a request
that breaks one is refused (400) with a sentence naming the field and the rule.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from icc_city.area import service_area
from icc_gateway.domain.model import Id, Incident, IncidentAssignment, Shape, Snapshot, Unit
from icc_gateway.domain.names import AgencyName, UnitKindName, UnitStatusName
from icc_gateway.domain.roles import User
from icc_kernel.names import MAX_ID
from icc_kernel.requests import MAX_REQUEST_ID, REQUEST_ID
from icc_kernel.vocabulary import Priority

DispatchState = Literal["AWAITING_DISPATCHER", "QUEUED", "COMPLETE", "ENDED"]

# Ids in paths and bodies: the characters of a request id (safe in a resource name).
ID_PATTERN = REQUEST_ID.pattern
RefId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN)]

# Free text. JSON Schema patterns are ECMAScript's and unanchored: `\S` is "a character
# other than white space somewhere". The document says these; the validator below holds
# requests to them with a message that says which rule was broken.
_ANY_TEXT = r"^[^\x00]*$"
_SOME_TEXT = r"^[^\x00]*\S[^\x00]*$"
_PHONE = r"^(\+?[0-9][0-9 .-]{2,19})?$"


def _text(value: str | None, *, required: bool, phone: bool) -> str | None:
    if value is None:  # an optional field left out
        return value
    if "\x00" in value:
        # PostgreSQL cannot store it; nothing a person types holds it.
        raise ValueError("must not contain the NUL character (\\u0000)")
    if required and not value.strip():
        raise ValueError("required: at least one character other than spaces")
    if phone and value and not re.fullmatch(_PHONE, value):
        raise ValueError(
            "must be a phone number: 3 to 20 digits, spaces, dots or dashes, "
            "starting with a digit or +"
        )
    return value


@dataclass(frozen=True)
class Text(annotated_types.GroupedMetadata):
    """A free-text field's rules: at most `max_length` characters, no NUL (Pydantic itself
    refuses a lone surrogate), and when `required` something other than spaces; `phone`:
    the services' rule for a caller's number, or empty. `Annotated[str, Text(500)]`."""

    max_length: int
    required: bool = False
    phone: bool = False

    def __iter__(self) -> Iterator[Any]:
        yield annotated_types.MaxLen(self.max_length)
        if self.required:
            yield annotated_types.MinLen(1)
        yield AfterValidator(partial(_text, required=self.required, phone=self.phone))
        pattern = _PHONE if self.phone else _SOME_TEXT if self.required else _ANY_TEXT
        yield Field(json_schema_extra={"pattern": pattern})


class Body(BaseModel):
    """A request body: unknown fields are ignored, as a newer screen may send more."""

    model_config = ConfigDict(extra="ignore")


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

_SOUTH, _WEST, _NORTH, _EAST = service_area().bounds()


class CallerIn(Body):
    name: Annotated[str, Text(200)] = ""
    phone: Annotated[str, Text(21, phone=True)] = ""
    language: Annotated[str, Text(35)] = ""


# The document gives the city's bounding box; the rule is its outline (a polygon, which
# JSON Schema cannot say), checked by the incidents service: 422 `location` outside.
Lat = Annotated[
    float,
    Field(
        ge=-90,
        le=90,
        allow_inf_nan=False,
        json_schema_extra={"minimum": _SOUTH, "maximum": _NORTH},
        description="With `lon`, a point inside the city (GET /api/v1/map's outline): "
        "else 422 with field `location`",
    ),
]
Lon = Annotated[
    float,
    Field(
        ge=-180, le=180, allow_inf_nan=False, json_schema_extra={"minimum": _WEST, "maximum": _EAST}
    ),
]
Address = Annotated[str, Text(500)]
Ward = Annotated[str, Text(100)]
Description = Annotated[str, Text(2000)]
Priority14 = Annotated[int, Field(ge=1, le=4)]


class CreateIncidentRequest(Body):
    request_id: str = Field(
        min_length=1,
        max_length=MAX_REQUEST_ID,
        pattern=REQUEST_ID.pattern,
        description="Client-chosen idempotency key: the same id again returns the same incident",
    )
    type_code: Annotated[str, Text(64, required=True)] = Field(
        description="A code of GET /api/v1/incident-types (the document lists them once the "
        "gateway has read them from the incidents service)"
    )
    priority: Priority14 | None = None
    lat: Lat
    lon: Lon
    address: Address = ""
    ward: Ward = ""
    description: Description = ""
    caller: CallerIn | None = None
    exercise: bool = False


class Caller(Shape):
    name: str
    phone: str
    language: str


class Note(Shape):
    id: Id
    text: str
    author: str
    create_time: str | None


class IncidentDetail(Incident):
    caller: Caller | None = Field(description="Only for roles allowed to see it, else null")
    notes: list[Note]
    resolution: str
    merged_into: Id | None


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
    type_code: Annotated[str, Text(64, required=True)] | None = Field(
        None, description="A code of GET /api/v1/incident-types"
    )
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


class Actor(Shape):
    user: str
    agency: AgencyName | None
    role: str


class ChronologyEntry(Shape):
    sequence: int
    time: str | None
    actor: Actor
    action: str
    detail: str


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
    eta_s: int
    acknowledge_deadline: str | None
    acknowledge_time: str | None
    override: bool
    override_reason: str
    release_reason: str
    assigned_by: Actor | None


class Shortfall(Shape):
    role: str
    missing: int


class DispatchStatus(Shape):
    state: DispatchState | None
    assignments: list[Assignment]
    waiting: bool = Field(description="Auto-dispatch waits for units to free up")
    mutual_aid: bool = Field(description="A unit of another agency fills a role of the plan")
    shortfalls: list[Shortfall]


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
    reasons: list[str]
    selected: bool
    mutual_aid: bool


class Recommendation(Shape):
    plan: Plan
    candidates: list[Candidate]
    shortfalls: list[Shortfall]
    eta_source: str


def _each_once(ids: list[str]) -> list[str]:
    if len(set(ids)) != len(ids):
        raise ValueError("a unit is named twice")
    return ids


# Units named by a request: each once, at most 20 (dispatch's limit per request).
UnitIds = Annotated[
    list[RefId],
    Field(max_length=20, json_schema_extra={"uniqueItems": True}),
    AfterValidator(_each_once),
]


class AssignRequest(Body):
    units: Annotated[UnitIds, Field(min_length=1)]
    override_reason: Annotated[str, Text(500)] = Field(
        "",
        description="Required (422 naming it otherwise) when a unit was not recommended",
    )
    request_id: str | None = Field(
        None, min_length=1, max_length=MAX_REQUEST_ID, pattern=REQUEST_ID.pattern
    )


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
