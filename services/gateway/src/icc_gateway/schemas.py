"""Request and response bodies of the HTTP API, named as in API.md (OpenAPI from these).

Each shape is declared once. The picture's items (Incident, Unit, Hospital, ...) and the
KPIs are the domain's own (domain/model.py, domain/kpi_model.py): the answers below are
built from them and from the services' messages (convert.py), and serialized as they are.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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
]


class ErrorDetail(Shape):
    code: ErrorCode
    message: str
    fields: list[ErrorField] = Field(default_factory=list)


class ErrorResponse(Shape):
    error: ErrorDetail


# Accounts


class LoginRequest(Body):
    username: str = Field(min_length=1, max_length=64)
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
    name: str = Field("", max_length=200)
    phone: str = Field("", max_length=30)
    language: str = Field("", max_length=35)


class CreateIncidentRequest(Body):
    request_id: str = Field(
        min_length=1,
        max_length=MAX_REQUEST_ID,
        pattern=REQUEST_ID.pattern,
        description="Client-chosen idempotency key: the same id again returns the same incident",
    )
    type_code: str = Field(min_length=1, max_length=64)
    priority: int | None = Field(None, ge=1, le=4)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    address: str = Field("", max_length=500)
    ward: str = Field("", max_length=100)
    description: str = Field("", max_length=2000)
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
    text: str = Field(min_length=1, max_length=4000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("required: the note's text")
        return value


class NoteResponse(Shape):
    note: Note


class CloseRequest(Body):
    resolution: str = Field(max_length=1000)
    etag: str | None = Field(None, max_length=64)


class CancelRequest(Body):
    reason: str = Field(min_length=1, max_length=1000)
    etag: str | None = Field(None, max_length=64)


# Dispatch


class Assignment(IncidentAssignment):
    incident: Id
    role: str
    eta_s: int
    acknowledge_deadline: str | None
    acknowledge_time: str | None
    release_time: str | None
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


class AssignRequest(Body):
    units: list[RefId] = Field(min_length=1, max_length=20)
    override_reason: str = Field("", max_length=500)
    request_id: str | None = Field(
        None, min_length=1, max_length=MAX_REQUEST_ID, pattern=REQUEST_ID.pattern
    )


class ReleaseRequest(Body):
    units: list[RefId] = Field(default_factory=list, max_length=20)
    reason: str = Field(min_length=1, max_length=500)


class AssignmentsResponse(Shape):
    assignments: list[Assignment]


class AssignmentResponse(Shape):
    assignment: Assignment


class UnitStatusRequest(Body):
    status: UnitStatusName
    reason: str = Field("", max_length=500)


class UnitResponse(Shape):
    unit: Unit


# Traces


class TraceSpan(Shape):
    trace_id: str
    service: str
    operation: str
    start_ms: float
    duration_ms: float
    depth: int
    error: bool


class Trace(Shape):
    spans: list[TraceSpan]


class Health(Shape):
    status: str
