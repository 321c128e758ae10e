"""Protobuf -> the API's shapes (domain/model.py, schemas.py), at the gateway's edge only.

Ids are bare (`9f3c...`, never `incidents/9f3c...`), enums are their names in the kernel's
vocabulary (whose numbers are the protobuf values), times ISO 8601 UTC strings or None.
The picture's forms never carry personal data: they are built from event snapshots, which
have none, and `caller`/`notes` are left out even when a gRPC answer has them.
"""

from collections.abc import Iterable
from enum import IntEnum
from typing import get_args

from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2, dispatch_service_pb2
from icc.incident.v1 import incident_pb2
from icc.resource.v1 import resource_pb2
from icc_gateway import schemas, schemas_calltaking
from icc_gateway.domain.model import Hospital, Incident, IncidentAssignment, Unit, iso_time
from icc_gateway.domain.picture import Version
from icc_kernel.etags import version_of
from icc_kernel.names import id_of
from icc_kernel.reasons import ReasonCode
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CallLine,
    CautionKind,
    Diversion,
    DuplicateReason,
    EtaSource,
    IncidentState,
    PlaceKind,
    Priority,
    UnitKind,
    UnitStatus,
)
from icc_rpc import convert as edge


def _names(enum: type[IntEnum]) -> dict[int, str]:
    """A contract enum's protobuf values and names (UNSPECIFIED, 0, has none)."""
    return {member.value: member.name for member in enum}


AGENCY = _names(Agency)
ASSIGNMENT_STATE = _names(AssignmentState)
INCIDENT_STATE = _names(IncidentState)
UNIT_STATUS = _names(UnitStatus)
UNIT_KIND = _names(UnitKind)
DIVERSION = _names(Diversion)
CALL_LINE = _names(CallLine)
CAUTION_KIND = _names(CautionKind)
DUPLICATE_REASON = _names(DuplicateReason)
PLACE_KIND = _names(PlaceKind)
ETA_SOURCE = _names(EtaSource)
REASON_CODE = _names(ReasonCode)
PRIORITY = {p.value: p for p in Priority}
# Dispatch's own states are no part of the shared vocabulary: the API names them
# (schemas.DispatchState), each the protobuf value of that name (or start-up fails).
DISPATCH_STATE: dict[int, schemas.DispatchState] = {
    dispatch_pb2.DispatchState.Value(f"DISPATCH_STATE_{name}"): name
    for name in get_args(schemas.DispatchState)
}

# The incidents the picture shows, and those that ended (for the KPIs), as list filters.
OPEN_STATES = tuple(edge.INCIDENT_STATE.to_protos(s for s in IncidentState if not s.terminal))
ENDED_STATES = tuple(edge.INCIDENT_STATE.to_protos(s for s in IncidentState if s.terminal))


def id_or_none(name: str) -> str | None:
    return id_of(name) if name else None


def iso(value: Timestamp) -> str | None:
    """`...T08:15:02.123Z` (UTC, to the millisecond); None for an unset time."""
    seconds, nanos = value.seconds, value.nanos
    if seconds == 0 and nanos == 0:
        return None
    return iso_time(seconds, nanos)


def micros(value: Timestamp) -> int:
    return value.seconds * 1_000_000 + value.nanos // 1000


def etag_version(etag: str) -> int:
    """The version an etag names; 0 when it names none (older than any)."""
    return version_of(etag) or 0


def agencies(values: Iterable[int]) -> list[str]:
    return [AGENCY[v] for v in values if v in AGENCY]


def reason(r: common_pb2.Reason) -> schemas.Reason | None:
    """A coded reason; None for one this version does not know (or none at all)."""
    code = REASON_CODE.get(r.code)
    return schemas.Reason(code=code, params=dict(r.params)) if code else None


def reasons(items: Iterable[common_pb2.Reason]) -> list[schemas.Reason]:
    return [x for x in map(reason, items) if x is not None]


def actor(a: common_pb2.Actor) -> schemas.Actor:
    return schemas.Actor(user=a.user, agency=AGENCY.get(a.agency), role=a.role)


def request_priority(value: int | None) -> "common_pb2.Priority.ValueType":
    """A request's priority (1-4, validated), or unspecified: the type's default."""
    return edge.PRIORITY.to_proto(Priority(value)) if value else common_pb2.PRIORITY_UNSPECIFIED


def unit_status_value(name: str) -> "resource_pb2.UnitStatus.ValueType":
    return edge.UNIT_STATUS.to_proto(UnitStatus[name])


# The picture


def is_open(incident: incident_pb2.Incident) -> bool:
    return incident.state in OPEN_STATES


def incident_version(incident: incident_pb2.Incident) -> Version:
    return etag_version(incident.etag), micros(incident.update_time)


def picture_assignment(
    a: incident_pb2.Assignment | dispatch_pb2.Assignment, kind: str | None = None
) -> IncidentAssignment:
    """An assignment in the picture's (incident's) form, from either service's message.

    `kind` is not in the incidents service's copy; the picture fills it from the unit."""
    return IncidentAssignment(
        id=id_of(a.name),
        unit=id_of(a.unit),
        call_sign=a.call_sign,
        agency=AGENCY.get(a.agency),
        kind=kind,
        state=ASSIGNMENT_STATE.get(a.state),
        assign_time=iso(a.assign_time),
        release_time=iso(a.release_time),
    )


def assignment_from_dispatch(a: dispatch_pb2.Assignment) -> IncidentAssignment:
    return picture_assignment(a, UNIT_KIND.get(a.kind))


def incident_item(i: incident_pb2.Incident) -> Incident:
    """The picture form of an incident: no caller, no notes."""
    loc = i.location
    return Incident(
        id=id_of(i.name),
        type_code=i.type_code,
        priority=PRIORITY.get(i.priority),
        state=INCIDENT_STATE.get(i.state),
        lat=loc.lat,
        lon=loc.lon,
        address=loc.address,
        ward=loc.ward,
        agencies=agencies(i.agencies),
        description=i.description,
        exercise=i.exercise,
        create_time=iso(i.create_time),
        first_dispatch_time=iso(i.first_dispatch_time),
        first_on_scene_time=iso(i.first_on_scene_time),
        close_time=iso(i.close_time),
        etag=i.etag,
        assignments=[picture_assignment(a) for a in i.assignments],
        call_line=CALL_LINE.get(i.call_line),
        caller_count=i.caller_count,
    )


def unit_version(u: resource_pb2.Unit) -> Version:
    return etag_version(u.etag), micros(u.status_time)


def unit_item(u: resource_pb2.Unit) -> Unit:
    has_position = u.HasField("position")
    return Unit(
        id=id_of(u.name),
        call_sign=u.call_sign,
        agency=AGENCY.get(u.agency),
        kind=UNIT_KIND.get(u.kind),
        status=UNIT_STATUS.get(u.status),
        lat=u.position.lat if has_position else None,
        lon=u.position.lon if has_position else None,
        station=id_or_none(u.home_station),
        incident=id_or_none(u.incident),
        update_time=iso(u.status_time),
        position_time=iso(u.position.report_time) if has_position else None,
    )


def position_time(u: resource_pb2.Unit) -> int | None:
    """When the unit's position was taken (microseconds), None without one."""
    return micros(u.position.report_time) if u.HasField("position") else None


def hospital_version(h: resource_pb2.Hospital) -> Version:
    return etag_version(h.etag), micros(h.update_time)


def hospital_item(h: resource_pb2.Hospital) -> Hospital:
    return Hospital(
        id=id_of(h.name),
        name_vi=h.name_vi,
        name_en=h.name_en,
        lat=h.location.lat,
        lon=h.location.lon,
        diversion=DIVERSION.get(h.diversion),
        beds_available=h.available.emergency_beds,
    )


# Requests' answers


def note(n: incident_pb2.Note) -> schemas.Note:
    return schemas.Note(
        id=id_of(n.name), text=n.text, author=n.author.user, create_time=iso(n.create_time)
    )


def caller(c: incident_pb2.Caller) -> schemas.Caller:
    return schemas.Caller(
        name=c.name,
        phone=c.phone,
        language=c.language,
        call_time=iso(c.call_time),
        call_line=CALL_LINE.get(c.call_line),
    )


def possible_duplicate(d: incident_pb2.PossibleDuplicate) -> schemas.PossibleDuplicate:
    return schemas.PossibleDuplicate(
        incident=id_of(d.incident),
        reasons=[DUPLICATE_REASON[r] for r in d.reasons if r in DUPLICATE_REASON],
        distance_m=d.distance_m,
        type_code=d.type_code,
        state=INCIDENT_STATE.get(d.state),
        create_time=iso(d.create_time),
        summary=d.summary,
    )


def caution(c: incident_pb2.Caution) -> schemas.Caution:
    loc = c.location
    return schemas.Caution(
        id=id_of(c.name),
        kind=CAUTION_KIND.get(c.kind),
        text=c.text,
        lat=loc.lat,
        lon=loc.lon,
        address=loc.address,
        ward=loc.ward,
        radius_m=c.radius_m,
        valid_until=iso(c.valid_until),
        created_by=actor(c.created_by) if c.HasField("created_by") else None,
        create_time=iso(c.create_time),
    )


def place_history(h: incident_pb2.PlaceHistory) -> schemas.PlaceHistory:
    return schemas.PlaceHistory(family=h.family, count=h.count, days=h.days)


def incident_detail(i: incident_pb2.Incident, *, personal_data: bool) -> schemas.IncidentDetail:
    """An incident with its narrative and what intake found; the callers, notes and the
    answers to key questions only with `personal_data`."""
    mine = personal_data
    return schemas.IncidentDetail(
        **dict(incident_item(i)),
        caller=caller(i.caller) if mine else None,
        notes=[note(n) for n in i.notes] if mine else [],
        resolution=i.resolution,
        merged_into=id_or_none(i.merged_into),
        possible_duplicates=[possible_duplicate(d) for d in i.possible_duplicates],
        cautions=[caution(c) for c in i.cautions],
        history=[place_history(h) for h in i.history],
        answers=[schemas.KeyAnswer(question=a.question, answer=a.answer) for a in i.answers]
        if mine
        else [],
        instructions=list(i.instructions) if mine else [],
        additional_callers=[caller(c) for c in i.additional_callers] if mine else [],
    )


def chronology_entry(e: incident_pb2.ChronologyEntry) -> schemas.ChronologyEntry:
    return schemas.ChronologyEntry(
        sequence=e.sequence,
        time=iso(e.time),
        actor=actor(e.actor),
        action=e.action,
        detail=e.detail,
        coded_detail=reasons(e.coded_detail),
    )


def incident_type(t: incident_pb2.IncidentType) -> schemas.IncidentType:
    return schemas.IncidentType(
        code=t.code,
        label_vi=t.label_vi,
        label_en=t.label_en,
        agencies=agencies(t.agencies),
        priority=PRIORITY.get(t.default_priority),
        family=t.code.partition(".")[0],
        # Words callers use (e.g. "hỏa hoạn"), so call takers find a type by them.
        keywords_vi=list(t.keywords_vi),
    )


def station(s: resource_pb2.Station) -> schemas.Station:
    return schemas.Station(
        id=id_of(s.name),
        name=s.name_vi or s.name_en,
        agency=AGENCY.get(s.agency),
        lat=s.location.lat,
        lon=s.location.lon,
    )


def assignment(a: dispatch_pb2.Assignment) -> schemas.Assignment:
    """Dispatch's full assignment (the `Assignment` of the dispatch endpoints)."""
    return schemas.Assignment(
        **dict(assignment_from_dispatch(a)),
        incident=id_of(a.incident),
        role=a.role,
        eta_s=a.eta_seconds,
        distance_m=a.distance_meters,
        eta_source=ETA_SOURCE.get(a.eta_source_code),
        acknowledge_deadline=iso(a.acknowledge_deadline),
        acknowledge_time=iso(a.acknowledge_time),
        override=a.override,
        override_reason=a.override_reason,
        release_reason=a.release_reason,
        coded_release_reason=reason(a.coded_release_reason),
        assigned_by=actor(a.assigned_by) if a.HasField("assigned_by") else None,
        destination_hospital=id_of(a.destination_hospital) if a.destination_hospital else None,
    )


def plan(p: dispatch_pb2.ResponsePlan) -> schemas.Plan:
    return schemas.Plan(
        type_code=p.type_code,
        priority=PRIORITY.get(p.priority),
        items=[
            schemas.PlanItem(
                role=i.role,
                agency=AGENCY.get(i.agency),
                kinds=[UNIT_KIND[k] for k in i.kinds if k in UNIT_KIND],
                count=i.count,
                first=i.first,
                label_vi=i.label_vi,
                label_en=i.label_en,
            )
            for i in p.items
        ],
    )


def shortfall(s: dispatch_pb2.Shortfall) -> schemas.Shortfall:
    return schemas.Shortfall(
        role=s.role,
        agency=AGENCY.get(s.agency),
        missing=s.missing,
        coded_reason=reason(s.coded_reason),
    )


def dispatch_status(s: dispatch_pb2.DispatchStatus) -> schemas.DispatchStatus:
    planned = {(i.role, i.agency) for i in s.plan.items}
    active = [a for a in s.assignments if a.state != common_pb2.ASSIGNMENT_STATE_RELEASED]
    return schemas.DispatchStatus(
        state=DISPATCH_STATE.get(s.state),
        assignments=[assignment(a) for a in s.assignments],
        # Auto-dispatch is short of units and waits for some to free up.
        waiting=s.state == dispatch_pb2.DISPATCH_STATE_QUEUED,
        # A unit fills a role of another agency than the plan's (mutual aid).
        mutual_aid=any(
            (a.role, a.agency) not in planned and any(i.role == a.role for i in s.plan.items)
            for a in active
        ),
        shortfalls=[shortfall(x) for x in s.shortfalls],
        awaiting_decision=s.awaiting_decision,
        awaiting_since=iso(s.awaiting_since),
    )


def candidate(c: dispatch_pb2.Candidate) -> schemas.Candidate:
    return schemas.Candidate(
        unit=id_of(c.unit),
        call_sign=c.call_sign,
        agency=AGENCY.get(c.agency),
        kind=UNIT_KIND.get(c.kind),
        role=c.role,
        eta_s=c.eta_seconds,
        distance_m=c.distance_meters,
        rank=c.rank,
        reasons=list(c.reasons),
        coded_reasons=reasons(c.coded_reasons),
        home_station=id_or_none(c.home_station),
        selected=c.selected,
        mutual_aid=c.mutual_aid,
        beyond_mutual_aid_eta=c.beyond_mutual_aid_eta,
    )


def recommendation(r: dispatch_pb2.Recommendation) -> schemas.Recommendation:
    return schemas.Recommendation(
        plan=plan(r.plan),
        candidates=[candidate(c) for c in r.candidates],
        shortfalls=[shortfall(s) for s in r.shortfalls],
        eta_source=r.eta_source,
        eta_source_code=ETA_SOURCE.get(r.eta_source_code),
        mutual_aid_eta_s=r.mutual_aid_eta_seconds,
    )


def available_units(r: dispatch_service_pb2.RankAvailableUnitsResponse) -> schemas.AvailableUnits:
    return schemas.AvailableUnits(
        candidates=[candidate(c) for c in r.candidates],
        eta_source_code=ETA_SOURCE.get(r.eta_source_code),
        mutual_aid_eta_s=r.mutual_aid_eta_seconds,
    )


# Call-taking


def place(p: incident_pb2.Place, *, near: bool) -> schemas_calltaking.Place:
    """A place found; its distance only when the search gave a point to measure from."""
    loc = p.location
    return schemas_calltaking.Place(
        id=p.id,
        label=p.label,
        kind=PLACE_KIND.get(p.kind),
        lat=loc.lat,
        lon=loc.lon,
        address=loc.address,
        ward=loc.ward,
        approximate=p.approximate,
        matched=p.matched,
        score=p.score,
        distance_m=p.distance_m if near else None,
        wards=list(p.wards),
        source=p.source,
    )


def key_question(q: incident_pb2.KeyQuestion) -> schemas_calltaking.KeyQuestion:
    return schemas_calltaking.KeyQuestion(
        id=q.id,
        text_vi=q.text_vi,
        text_en=q.text_en,
        options=[
            schemas_calltaking.KeyAnswerOption(
                value=o.value,
                label_vi=o.label_vi,
                label_en=o.label_en,
                priority=PRIORITY.get(o.priority),
                type_code=o.type_code,
                instruction_vi=o.instruction_vi,
                instruction_en=o.instruction_en,
            )
            for o in q.options
        ],
    )
