"""Protobuf <-> domain for the incidents service, at its edge only (generic conversions:
`icc_rpc.convert`)."""

from collections.abc import Iterable

from google.protobuf.message import Message

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc_incidents.audit import PERSONAL_FIELDS, AuditAction, AuditRecord
from icc_incidents.domain.catalog import IncidentType
from icc_incidents.domain.cautions import CautionDraft
from icc_incidents.domain.lifecycle import Draft
from icc_incidents.domain.model import (
    COLLECTION,
    Assignment,
    Caller,
    Caution,
    ChronologyEntry,
    Incident,
    KeyAnswer,
    Location,
    Note,
    PlaceHistory,
    PossibleDuplicate,
    note_name,
)
from icc_incidents.domain.questions import KeyQuestion
from icc_incidents.places import FoundPlace
from icc_kernel.errors import Violation
from icc_kernel.names import name_of
from icc_kernel.vocabulary import Agency, AssignmentState
from icc_rpc.convert import (
    AGENCY,
    ASSIGNMENT_STATE,
    CALL_LINE,
    CAUTION_KIND,
    DUPLICATE_REASON,
    ETA_SOURCE,
    INCIDENT_STATE,
    PLACE_KIND,
    PRIORITY,
    actor_to_proto,
    optional_time,
    reasons_to_proto,
    timestamp,
    timestamp_or_none,
    to_datetime,
)


def note_to_proto(incident_id: str, n: Note) -> incident_pb2.Note:
    return incident_pb2.Note(
        name=note_name(incident_id, n.id),
        text=n.text,
        author=actor_to_proto(n.author),
        create_time=timestamp(n.create_time),
    )


def _assignment_to_proto(a: Assignment) -> incident_pb2.Assignment:
    return incident_pb2.Assignment(
        name=a.name,
        unit=a.unit,
        call_sign=a.call_sign,
        agency=AGENCY.to_proto(a.agency),
        state=ASSIGNMENT_STATE.to_proto(a.state),
        assign_time=timestamp_or_none(a.assign_time),
        release_time=timestamp_or_none(a.release_time),
        eta_seconds=a.eta_s,
        distance_meters=a.distance_m,
        eta_source_code=ETA_SOURCE.to_proto(a.eta_source)
        if a.eta_source
        else common_pb2.ETA_SOURCE_UNSPECIFIED,
    )


def incident_to_proto(i: Incident, *, personal_data: bool) -> incident_pb2.Incident:
    """`personal_data=False` leaves out the callers, the notes and the answers to key
    questions (events, narrow roles)."""
    out = incident_pb2.Incident(
        name=i.name,
        type_code=i.type_code,
        priority=PRIORITY.to_proto(i.priority),
        state=INCIDENT_STATE.to_proto(i.state),
        location=location_to_proto(i.location),
        agencies=AGENCY.to_protos(i.agencies),
        description=i.description,
        exercise=i.exercise,
        etag=i.etag,
        merged_into=i.merged_into or "",
        created_by=actor_to_proto(i.created_by),
        resolution=i.resolution,
        assignments=[_assignment_to_proto(a) for a in i.assignments],
        create_time=timestamp(i.create_time),
        update_time=timestamp(i.update_time),
        first_dispatch_time=timestamp_or_none(i.first_dispatch_time),
        first_on_scene_time=timestamp_or_none(i.first_on_scene_time),
        close_time=timestamp_or_none(i.close_time),
        call_line=CALL_LINE.to_proto(i.call_line),
        possible_duplicates=[duplicate_to_proto(d) for d in i.possible_duplicates],
        cautions=[caution_to_proto(c) for c in i.cautions],
        history=[history_to_proto(h) for h in i.history],
        caller_count=i.caller_count,
    )
    if personal_data:
        # Answers say how a patient is (breathing, bleeding): kept with the notes.
        out.answers.extend(
            incident_pb2.KeyAnswer(question=a.question, answer=a.answer) for a in i.answers
        )
        out.instructions.extend(i.instructions)
        out.caller.CopyFrom(caller_to_proto(i.caller))
        out.notes.extend(note_to_proto(i.id, n) for n in i.notes)
        out.additional_callers.extend(caller_to_proto(c) for c in i.additional_callers)
    return out


def personal_fields(out: incident_pb2.Incident) -> tuple[str, ...]:
    """The personal data an answer holds, by field name (for the audit)."""
    held = {
        "caller": bool(out.caller.name or out.caller.phone),
        "additional_callers": len(out.additional_callers) > 0,
        "notes": len(out.notes) > 0,
        "answers": len(out.answers) > 0,
    }
    return tuple(name for name in PERSONAL_FIELDS if held[name])


AUDIT_ACTION = {
    AuditAction.READ: pb.AUDIT_ACTION_READ,
    AuditAction.CHANGE: pb.AUDIT_ACTION_CHANGE,
    AuditAction.ERASE: pb.AUDIT_ACTION_ERASE,
}


def audit_to_proto(r: AuditRecord) -> pb.AuditRecord:
    return pb.AuditRecord(
        sequence=r.sequence,
        time=timestamp(r.time),
        incident=name_of(COLLECTION, r.incident_id),
        action=AUDIT_ACTION[r.action],
        rpc=r.rpc,
        fields=list(r.fields),
        caller=r.caller,
        person=r.person,
        agency=AGENCY.to_proto(r.agency),
        role=r.role,
    )


def history_to_proto(h: PlaceHistory) -> incident_pb2.PlaceHistory:
    return incident_pb2.PlaceHistory(family=h.family, count=h.count, days=h.days)


def caller_to_proto(c: Caller) -> incident_pb2.Caller:
    return incident_pb2.Caller(
        name=c.name,
        phone=c.phone,
        language=c.language,
        call_time=timestamp_or_none(c.call_time),
        call_line=CALL_LINE.optional(c.call_line),
    )


def duplicate_to_proto(d: PossibleDuplicate) -> incident_pb2.PossibleDuplicate:
    return incident_pb2.PossibleDuplicate(
        incident=d.incident,
        reasons=DUPLICATE_REASON.to_protos(d.reasons),
        distance_m=d.distance_m,
        type_code=d.type_code,
        state=INCIDENT_STATE.to_proto(d.state),
        create_time=timestamp(d.create_time),
        summary=d.summary,
    )


def caution_to_proto(c: Caution) -> incident_pb2.Caution:
    return incident_pb2.Caution(
        name=c.name,
        kind=CAUTION_KIND.to_proto(c.kind),
        text=c.text,
        location=location_to_proto(c.location),
        radius_m=c.radius_m,
        valid_until=timestamp(c.valid_until),
        created_by=actor_to_proto(c.created_by),
        create_time=timestamp(c.create_time),
    )


def location_to_proto(loc: Location) -> common_pb2.Location:
    return common_pb2.Location(lat=loc.lat, lon=loc.lon, address=loc.address, ward=loc.ward)


def location_or_none(p: Message, name: str) -> Location | None:
    """A request's `Location` field, None when unset."""
    if not p.HasField(name):
        return None
    loc = getattr(p, name)
    return Location(loc.lat, loc.lon, loc.address, loc.ward)


def caution_draft_from_proto(p: incident_pb2.Caution, out: list[Violation]) -> CautionDraft:
    return CautionDraft(
        kind=CAUTION_KIND.from_proto(p.kind, "caution.kind", out),
        text=p.text,
        location=location_or_none(p, "location"),
        radius_m=p.radius_m,
        valid_until=optional_time(p, "valid_until", "caution.valid_until", out),
    )


def answers_from_proto(items: Iterable[incident_pb2.KeyAnswer]) -> tuple[KeyAnswer, ...]:
    return tuple(KeyAnswer(a.question, a.answer) for a in items)


def question_to_proto(q: KeyQuestion) -> incident_pb2.KeyQuestion:
    return incident_pb2.KeyQuestion(
        id=q.id,
        text_vi=q.text_vi,
        text_en=q.text_en,
        options=[
            incident_pb2.KeyAnswerOption(
                value=o.value,
                label_vi=o.label_vi,
                label_en=o.label_en,
                priority=PRIORITY.optional(o.priority),
                type_code=o.type_code,
                instruction_vi=o.instruction_vi,
                instruction_en=o.instruction_en,
            )
            for o in q.options
        ],
    )


def place_to_proto(p: FoundPlace) -> incident_pb2.Place:
    return incident_pb2.Place(
        id=p.id,
        label=p.label,
        kind=PLACE_KIND.to_proto(p.kind),
        location=location_to_proto(p.location),
        approximate=p.approximate,
        matched=p.matched,
        score=p.score,
        distance_m=p.distance_m or 0.0,
        wards=list(p.wards),
        source=p.source,
    )


def chronology_to_proto(e: ChronologyEntry) -> incident_pb2.ChronologyEntry:
    return incident_pb2.ChronologyEntry(
        sequence=e.sequence,
        time=timestamp(e.time),
        actor=actor_to_proto(e.actor),
        action=e.action,
        detail=e.detail,
        coded_detail=reasons_to_proto(e.reasons),
    )


def type_to_proto(t: IncidentType) -> incident_pb2.IncidentType:
    return incident_pb2.IncidentType(
        code=t.code,
        label_vi=t.label_vi,
        label_en=t.label_en,
        agencies=AGENCY.to_protos(t.agencies),
        default_priority=PRIORITY.to_proto(t.default_priority),
        category=t.category,
        keywords_vi=list(t.keywords_vi),
        family=t.family,
    )


def draft_from_proto(p: incident_pb2.Incident, out: list[Violation]) -> Draft:
    """An incident as a request writes it (output-only fields are ignored)."""
    return Draft(
        type_code=p.type_code,
        location=(
            Location(p.location.lat, p.location.lon, p.location.address, p.location.ward)
            if p.HasField("location")
            else None
        ),
        priority=PRIORITY.from_proto(p.priority, "incident.priority", out),
        agencies=tuple(AGENCY.from_protos(p.agencies, "incident.agencies", out)),
        caller=Caller(p.caller.name, p.caller.phone, p.caller.language),
        description=p.description,
        exercise=p.exercise,
        call_line=CALL_LINE.from_proto(p.call_line, "incident.call_line", out),
        answers=answers_from_proto(p.answers),
    )


def caller_from_proto(p: incident_pb2.Caller, out: list[Violation]) -> Caller:
    line = CALL_LINE.from_proto(p.call_line, "caller.call_line", out)
    return Caller(p.name, p.phone, p.language, call_line=line)


def agency_or_center(value: int) -> Agency:
    """Another service's agency value; the command center stands in for one unknown here."""
    return Agency(value) if value in Agency._value2member_map_ else Agency.COMMAND_CENTER


def assignment_from_dispatch(a: dispatch_pb2.Assignment) -> Assignment:
    """Dispatch's assignment as the incident keeps it. Raises ValueError for an unknown
    state and InvalidInput for an impossible time."""
    return Assignment(
        name=a.name,
        unit=a.unit,
        call_sign=a.call_sign,
        agency=agency_or_center(a.agency),
        state=AssignmentState(a.state),
        assign_time=to_datetime(a.assign_time, "assign_time")
        if a.HasField("assign_time")
        else None,
        release_time=(
            to_datetime(a.release_time, "release_time") if a.HasField("release_time") else None
        ),
        eta_s=max(0, a.eta_seconds),
        distance_m=max(0, a.distance_meters),
        eta_source=ETA_SOURCE.from_proto(a.eta_source_code, "eta_source_code", []),
    )
