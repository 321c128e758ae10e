"""Request and response bodies of the HTTP API, named as in API.md (OpenAPI from these)."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Agency = Literal["POLICE", "FIRE", "MEDICAL", "COMMAND_CENTER", "UTILITY"]
Role = Literal["viewer", "call_taker", "dispatcher", "supervisor"]
IncidentState = Literal[
    "NEW", "DISPATCHED", "EN_ROUTE", "ON_SCENE", "CLOSED", "MERGED", "CANCELLED"
]
UnitStatus = Literal[
    "AVAILABLE",
    "DISPATCHED",
    "EN_ROUTE",
    "ON_SCENE",
    "TRANSPORTING",
    "AT_HOSPITAL",
    "OUT_OF_SERVICE",
]
UnitKind = Literal[
    "ENGINE",
    "LADDER",
    "RESCUE",
    "WATER_TENDER",
    "HAZMAT",
    "AMBULANCE_ALS",
    "AMBULANCE_BLS",
    "MOTORBIKE_RESPONDER",
    "PATROL_CAR",
    "POLICE_MOTORBIKE",
    "TRAFFIC_MOTORBIKE",
]
AssignmentState = Literal["PROPOSED", "ASSIGNED", "ACKNOWLEDGED", "RELEASED"]
DispatchState = Literal["AWAITING_DISPATCHER", "QUEUED", "COMPLETE", "ENDED"]
Diversion = Literal["OPEN", "PARTIAL", "FULL"]

# Ids as the services make them, and the client's idempotency keys.
ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
Id = str


class Body(BaseModel):
    """A request body: unknown fields are ignored, as a newer screen may send more."""

    model_config = ConfigDict(extra="ignore")


# Errors


class ErrorField(BaseModel):
    field: str
    description: str


class ErrorDetail(BaseModel):
    code: Literal[
        "invalid_argument",
        "unauthenticated",
        "permission_denied",
        "not_found",
        "conflict",
        "unavailable",
        "internal",
        "method_not_allowed",
    ]
    message: str
    fields: list[ErrorField] = []


class ErrorResponse(BaseModel):
    error: ErrorDetail


# Accounts


class LoginRequest(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class User(BaseModel):
    username: str
    display_name: str
    role: Role
    agency: Agency


class SessionResponse(BaseModel):
    user: User


# Reference data


class IncidentType(BaseModel):
    code: str
    label_vi: str
    label_en: str
    agencies: list[Agency]
    priority: int | None
    family: str
    keywords_vi: list[str]


class IncidentTypes(BaseModel):
    types: list[IncidentType]


class Station(BaseModel):
    id: Id
    name: str
    agency: Agency | None
    lat: float
    lon: float


class Stations(BaseModel):
    stations: list[Station]


# The picture


class IncidentAssignment(BaseModel):
    id: Id
    unit: Id
    call_sign: str
    agency: Agency | None
    kind: UnitKind | None
    state: AssignmentState | None
    assign_time: str | None


class Incident(BaseModel):
    """An incident in the picture: no personal data."""

    id: Id
    type_code: str
    priority: int | None
    state: IncidentState | None
    lat: float
    lon: float
    address: str
    ward: str
    agencies: list[Agency]
    description: str
    exercise: bool
    create_time: str | None
    first_dispatch_time: str | None
    first_on_scene_time: str | None
    close_time: str | None
    etag: str
    assignments: list[IncidentAssignment]


class Unit(BaseModel):
    id: Id
    call_sign: str
    agency: Agency | None
    kind: UnitKind | None
    status: UnitStatus | None
    lat: float | None
    lon: float | None
    station: Id | None
    incident: Id | None = Field(description="The incident it is held for, or null")
    update_time: str | None = Field(description="When its status last changed")


class Hospital(BaseModel):
    id: Id
    name_vi: str
    name_en: str
    lat: float
    lon: float
    diversion: Diversion | None
    beds_available: int = Field(description="Free emergency beds")


class Picture(BaseModel):
    cursor: int
    server_time: str = Field(description="The gateway's clock when this was sent (ISO 8601)")
    incidents: list[Incident]
    units: list[Unit]
    hospitals: list[Hospital]


class Removed(BaseModel):
    id: Id


class Change(BaseModel):
    """The `data` of an SSE `change` event (its `id` is the cursor)."""

    kind: Literal["incident", "unit", "hospital"]
    op: Literal["upsert", "remove"]
    item: Incident | Unit | Hospital | Removed


# Incidents


class CallerIn(Body):
    name: str = Field("", max_length=200)
    phone: str = Field("", max_length=30)
    language: str = Field("", max_length=35)


class CreateIncidentRequest(Body):
    request_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
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


class Caller(BaseModel):
    name: str
    phone: str
    language: str


class Note(BaseModel):
    id: Id
    text: str
    author: str
    create_time: str | None


class IncidentDetail(Incident):
    caller: Caller | None = Field(description="Only for roles allowed to see it, else null")
    notes: list[Note]
    resolution: str
    merged_into: Id | None


class IncidentResponse(BaseModel):
    incident: IncidentDetail


class Actor(BaseModel):
    user: str
    agency: Agency | None
    role: str


class ChronologyEntry(BaseModel):
    sequence: int
    time: str | None
    actor: Actor
    action: str
    detail: str


class Chronology(BaseModel):
    entries: list[ChronologyEntry]


class NoteRequest(Body):
    text: str = Field(min_length=1, max_length=4000)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("required: the note's text")
        return value


class NoteResponse(BaseModel):
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


class Shortfall(BaseModel):
    role: str
    missing: int


class DispatchStatus(BaseModel):
    state: DispatchState | None
    assignments: list[Assignment]
    waiting: bool = Field(description="Auto-dispatch waits for units to free up")
    mutual_aid: bool = Field(description="A unit of another agency fills a role of the plan")
    shortfalls: list[Shortfall]


class PlanItem(BaseModel):
    role: str
    agency: Agency | None
    kinds: list[UnitKind]
    count: int
    first: bool
    label_vi: str
    label_en: str


class Plan(BaseModel):
    type_code: str
    priority: int | None
    items: list[PlanItem]


class Candidate(BaseModel):
    unit: Id
    call_sign: str
    agency: Agency | None
    kind: UnitKind | None
    role: str
    eta_s: int
    distance_m: int
    rank: int
    reasons: list[str]
    selected: bool
    mutual_aid: bool


class Recommendation(BaseModel):
    plan: Plan
    candidates: list[Candidate]
    shortfalls: list[Shortfall]
    eta_source: str


UnitId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class AssignRequest(Body):
    units: list[UnitId] = Field(min_length=1, max_length=20)
    override_reason: str = Field("", max_length=500)
    request_id: str | None = Field(None, min_length=1, max_length=64, pattern=ID_PATTERN)


class ReleaseRequest(Body):
    units: list[UnitId] = Field(default_factory=list, max_length=20)
    reason: str = Field(min_length=1, max_length=500)


class AssignmentsResponse(BaseModel):
    assignments: list[Assignment]


class AssignmentResponse(BaseModel):
    assignment: Assignment


class UnitStatusRequest(Body):
    status: UnitStatus
    reason: str = Field("", max_length=500)


class UnitResponse(BaseModel):
    unit: Unit


# KPIs


class KpiSpread(BaseModel):
    """Real seconds from the call to a step, nearest-rank percentiles of `n` incidents."""

    n: int
    p50_s: float | None
    p90_s: float | None
    pending: int = Field(description="Open incidents of the group that have not got there yet")


class KpiStep(BaseModel):
    all: KpiSpread
    by_agency: dict[str, KpiSpread] = Field(description="By lead agency (the first one)")
    by_priority: dict[str, KpiSpread] = Field(description='By priority, "1" to "4"')


class KpiCalls(BaseModel):
    total: int
    exercise: int = Field(description="Of `total`, drills")
    open: int
    by_agency: dict[str, int]
    by_priority: dict[str, int]


class KpiTarget(BaseModel):
    target_s: float
    reached: int
    missed: int
    pending: int = Field(description="No unit yet, the target time not over yet")
    share: float | None = Field(description="reached / (reached + missed), null when none")


class KpiWaiting(BaseModel):
    count: int
    after_s: float
    oldest_s: float | None
    incidents: list[Id] = Field(description="The longest waiting first, at most 20")


class KpiUnitGroup(BaseModel):
    total: int
    out_of_service: int
    busy: int
    utilisation: float | None = Field(description="busy / (total - out_of_service)")


class KpiUnits(KpiUnitGroup):
    by_agency: dict[str, KpiUnitGroup]


class Kpis(BaseModel):
    server_time: str
    window_s: float
    exercise: Literal["include", "exclude", "only"]
    calls: KpiCalls
    call_to_dispatch: KpiStep
    call_to_on_scene: KpiStep
    p1_within_target: dict[str, KpiTarget]
    waiting: KpiWaiting
    units: KpiUnits


# Traces


class TraceSpan(BaseModel):
    trace_id: str
    service: str
    operation: str
    start_ms: float
    duration_ms: float
    depth: int
    error: bool


class Trace(BaseModel):
    spans: list[TraceSpan]


class Health(BaseModel):
    status: str
