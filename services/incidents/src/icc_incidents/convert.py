"""Protobuf <-> domain for the incidents service, at its edge only (generic conversions:
`icc_rpc.convert`)."""

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.incident.v1 import incident_pb2
from icc_incidents.domain.catalog import IncidentType
from icc_incidents.domain.lifecycle import Draft
from icc_incidents.domain.model import (
    Assignment,
    Caller,
    ChronologyEntry,
    Incident,
    Location,
    Note,
    note_name,
)
from icc_kernel.errors import Violation
from icc_kernel.vocabulary import Agency, AssignmentState
from icc_rpc.convert import (
    AGENCY,
    ASSIGNMENT_STATE,
    INCIDENT_STATE,
    PRIORITY,
    actor_to_proto,
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
    )


def incident_to_proto(i: Incident, *, personal_data: bool) -> incident_pb2.Incident:
    """`personal_data=False` leaves out the caller and the notes (events, narrow roles)."""
    out = incident_pb2.Incident(
        name=i.name,
        type_code=i.type_code,
        priority=PRIORITY.to_proto(i.priority),
        state=INCIDENT_STATE.to_proto(i.state),
        location=common_pb2.Location(
            lat=i.location.lat, lon=i.location.lon, address=i.location.address, ward=i.location.ward
        ),
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
    )
    if personal_data:
        out.caller.CopyFrom(
            incident_pb2.Caller(
                name=i.caller.name, phone=i.caller.phone, language=i.caller.language
            )
        )
        out.notes.extend(note_to_proto(i.id, n) for n in i.notes)
    return out


def chronology_to_proto(e: ChronologyEntry) -> incident_pb2.ChronologyEntry:
    return incident_pb2.ChronologyEntry(
        sequence=e.sequence,
        time=timestamp(e.time),
        actor=actor_to_proto(e.actor),
        action=e.action,
        detail=e.detail,
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
    )


def draft_from_proto(p: incident_pb2.Incident, out: list[Violation]) -> Draft:
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
    )


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
    )
