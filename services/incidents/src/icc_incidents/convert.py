"""Protobuf <-> domain, at the service's edge only."""

import uuid
from datetime import UTC, datetime

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.incident.v1 import events_pb2, incident_pb2
from icc_bus import OutgoingEvent, outgoing
from icc_incidents.domain.catalog import IncidentType
from icc_incidents.domain.errors import Violation
from icc_incidents.domain.lifecycle import Change, Draft
from icc_incidents.domain.model import (
    Actor,
    Agency,
    Assignment,
    AssignmentState,
    Caller,
    ChronologyEntry,
    Incident,
    Location,
    Note,
    Priority,
)

SUBJECT_PREFIX = "icc.incident."


def ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    out = Timestamp()
    out.FromDatetime(value)
    return out


def actor_to_proto(a: Actor) -> common_pb2.Actor:
    return common_pb2.Actor(user=a.user, agency=int(a.agency), role=a.role)  # type: ignore[arg-type]


def note_to_proto(incident_id: str, n: Note) -> incident_pb2.Note:
    return incident_pb2.Note(
        name=f"incidents/{incident_id}/notes/{n.id}",
        text=n.text,
        author=actor_to_proto(n.author),
        create_time=ts(n.create_time),
    )


def incident_to_proto(i: Incident, *, personal_data: bool) -> incident_pb2.Incident:
    """`personal_data=False` leaves out the caller and the notes (events, narrow roles)."""
    out = incident_pb2.Incident(
        name=i.name,
        type_code=i.type_code,
        priority=int(i.priority),  # type: ignore[arg-type]
        state=int(i.state),  # type: ignore[arg-type]
        location=common_pb2.Location(
            lat=i.location.lat, lon=i.location.lon, address=i.location.address, ward=i.location.ward
        ),
        agencies=[int(a) for a in i.agencies],  # type: ignore[misc]
        description=i.description,
        exercise=i.exercise,
        etag=i.etag,
        merged_into=i.merged_into or "",
        created_by=actor_to_proto(i.created_by),
        resolution=i.resolution,
        assignments=[
            incident_pb2.Assignment(
                name=a.name,
                unit=a.unit,
                call_sign=a.call_sign,
                agency=int(a.agency),  # type: ignore[arg-type]
                state=int(a.state),  # type: ignore[arg-type]
                assign_time=ts(a.assign_time),
                release_time=ts(a.release_time),
            )
            for a in i.assignments
        ],
    )
    for field in (
        "create_time",
        "update_time",
        "first_dispatch_time",
        "first_on_scene_time",
        "close_time",
    ):
        value = ts(getattr(i, field))
        if value is not None:
            getattr(out, field).CopyFrom(value)
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
        time=ts(e.time),
        actor=actor_to_proto(e.actor),
        action=e.action,
        detail=e.detail,
    )


def type_to_proto(t: IncidentType) -> incident_pb2.IncidentType:
    return incident_pb2.IncidentType(
        code=t.code,
        label_vi=t.label_vi,
        label_en=t.label_en,
        agencies=[int(a) for a in t.agencies],  # type: ignore[misc]
        default_priority=int(t.default_priority),  # type: ignore[arg-type]
        category=t.category,
        keywords_vi=list(t.keywords_vi),
    )


def agency_from_proto(value: int, field: str, out: list[Violation]) -> Agency | None:
    if value == 0:
        return None
    try:
        return Agency(value)
    except ValueError:
        out.append(Violation(field, f"unknown agency {value}"))
        return None


def priority_from_proto(value: int, field: str, out: list[Violation]) -> Priority | None:
    if value == 0:
        return None
    try:
        return Priority(value)
    except ValueError:
        out.append(Violation(field, f"unknown priority {value}; use P1 to P4"))
        return None


def draft_from_proto(p: incident_pb2.Incident, out: list[Violation]) -> Draft:
    agencies: list[Agency] = []
    for n, value in enumerate(p.agencies):
        agency = agency_from_proto(value, f"incident.agencies[{n}]", out)
        if agency is None and value == 0:
            out.append(Violation(f"incident.agencies[{n}]", "AGENCY_UNSPECIFIED is not an agency"))
        elif agency is not None:
            agencies.append(agency)
    return Draft(
        type_code=p.type_code,
        location=(
            Location(p.location.lat, p.location.lon, p.location.address, p.location.ward)
            if p.HasField("location")
            else None
        ),
        priority=priority_from_proto(p.priority, "incident.priority", out),
        agencies=tuple(agencies),
        caller=Caller(p.caller.name, p.caller.phone, p.caller.language),
        description=p.description,
        exercise=p.exercise,
    )


_EVENT_CLASSES: dict[str, type[Message]] = {
    "created": events_pb2.IncidentCreated,
    "updated": events_pb2.IncidentUpdated,
    "state_changed": events_pb2.IncidentStateChanged,
    "note_added": events_pb2.IncidentNoteAdded,
    "merged": events_pb2.IncidentMerged,
    "closed": events_pb2.IncidentClosed,
    "cancelled": events_pb2.IncidentCancelled,
}
EVENT_TYPES = list(_EVENT_CLASSES.values())


def event_for(
    change: Change,
    actor: Actor,
    now: datetime,
    *,
    note: str = "",
    duplicate: Incident | None = None,
) -> OutgoingEvent:
    """The outbox event announcing a change, with the current trace context."""
    event_id = uuid.uuid4().hex
    cls = _EVENT_CLASSES[change.action]
    meta = common_pb2.EventMetadata(
        event_id=event_id, occur_time=ts(now), actor=actor_to_proto(actor)
    )
    snapshot = incident_to_proto(change.incident, personal_data=False)
    message: Message
    if change.action == "updated":
        message = events_pb2.IncidentUpdated(
            metadata=meta, incident=snapshot, update_mask=FieldMask(paths=list(change.fields))
        )
    elif change.action == "state_changed":
        message = events_pb2.IncidentStateChanged(
            metadata=meta,
            incident=snapshot,
            previous_state=int(change.previous_state or 0),  # type: ignore[arg-type]
        )
    elif change.action == "note_added":
        message = events_pb2.IncidentNoteAdded(metadata=meta, incident=snapshot, note=note)
    elif change.action == "merged":
        assert duplicate is not None
        message = events_pb2.IncidentMerged(
            metadata=meta,
            incident=snapshot,
            duplicate=incident_to_proto(duplicate, personal_data=False),
        )
    else:
        message = cls(metadata=meta, incident=snapshot)
    return outgoing(SUBJECT_PREFIX + change.action, event_id, message, incident=change.incident.id)


def agency_or_center(value: int) -> Agency:
    """Another service's agency value; the command center stands in for one unknown here."""
    return Agency(value) if value in Agency._value2member_map_ else Agency.COMMAND_CENTER


def assignment_from_dispatch(a: dispatch_pb2.Assignment) -> Assignment:
    """Dispatch's assignment as the incident keeps it."""
    return Assignment(
        name=a.name,
        unit=a.unit,
        call_sign=a.call_sign,
        agency=agency_or_center(a.agency),
        state=AssignmentState(a.state),
        assign_time=a.assign_time.ToDatetime(UTC) if a.HasField("assign_time") else None,
        release_time=a.release_time.ToDatetime(UTC) if a.HasField("release_time") else None,
    )
