"""Incident events on the bus: the domain's `IncidentChanged` in, protobuf events on the
outbox out. The one place this service builds its events."""

import uuid
from collections.abc import Callable

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from icc.incident.v1 import events_pb2, incident_pb2
from icc_bus import OutgoingEvent, outgoing
from icc_incidents import store
from icc_incidents.convert import incident_to_proto
from icc_incidents.domain.events import IncidentChanged
from icc_rpc.convert import INCIDENT_STATE, event_metadata
from icc_storage import WriteTx, add_events

SUBJECT_PREFIX = "icc.incident."

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
# Each action is also the name of its field in WatchIncidentsResponse.
ACTIONS = frozenset(_EVENT_CLASSES)


def outgoing_for(event: IncidentChanged) -> OutgoingEvent:
    """The bus event announcing a change, with a new id and the current trace context."""
    change = event.change
    event_id = uuid.uuid4().hex
    meta = event_metadata(event_id, event.time, event.actor)
    snapshot = incident_to_proto(change.incident, personal_data=False)
    message: Message
    if change.action == "updated":
        message = events_pb2.IncidentUpdated(
            metadata=meta, incident=snapshot, update_mask=FieldMask(paths=list(change.fields))
        )
    elif change.action == "state_changed":
        previous = change.previous_state
        message = events_pb2.IncidentStateChanged(
            metadata=meta,
            incident=snapshot,
            previous_state=(
                INCIDENT_STATE.to_proto(previous)
                if previous is not None
                else incident_pb2.INCIDENT_STATE_UNSPECIFIED
            ),
        )
    elif change.action == "note_added":
        message = events_pb2.IncidentNoteAdded(metadata=meta, incident=snapshot, note=event.note)
    elif change.action == "merged":
        assert event.duplicate is not None
        message = events_pb2.IncidentMerged(
            metadata=meta,
            incident=snapshot,
            duplicate=incident_to_proto(event.duplicate, personal_data=False),
        )
    else:
        message = _EVENT_CLASSES[change.action](metadata=meta, incident=snapshot)
    return outgoing(SUBJECT_PREFIX + change.action, event_id, message, incident=change.incident.id)


def staged(event: IncidentChanged) -> Callable[[WriteTx], None]:
    """The event built now (so a write that runs again keeps its id), put on the outbox
    of the write that calls the result."""
    built = outgoing_for(event)
    return lambda tx: add_events(tx, store.outbox, [built])
