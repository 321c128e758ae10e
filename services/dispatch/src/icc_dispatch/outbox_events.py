"""Dispatch's domain events as the contract's protobuf events on the bus (through the
outbox): one function, `outgoing_event`, for every kind.

An event that states a fact which happens once (these assignments confirmed, this one
acknowledged, escalated, released) has an id made from the fact, so that whichever
replica announces it, a second announcement has the same id: the stream's duplicate
window and every consumer's inbox drop it. A recommendation may be made again: its id
is new each time.
"""

import uuid
from collections.abc import Iterable

from google.protobuf.message import Message

from icc.dispatch.v1 import events_pb2
from icc_bus import OutgoingEvent, outgoing
from icc_dispatch.convert import assignment_to_proto, caution_to_proto, recommendation_to_proto
from icc_dispatch.domain.events import (
    AssignmentAcknowledged,
    AssignmentEscalated,
    DispatchEvent,
    UnitsAssigned,
    UnitsRecommended,
    UnitsReleased,
)
from icc_dispatch.domain.model import Assignment
from icc_kernel.names import name_of
from icc_rpc.convert import PRIORITY, event_metadata, reason_to_proto, timestamp_or_none

# The namespace of fact ids (any fixed UUID).
_FACTS = uuid.UUID("5b1d8f0e-6c36-4d1e-9a57-1cc0d15a7c11")


def fact_id(fact: str, assignments: Iterable[Assignment]) -> str:
    """The id of the event stating `fact` about these assignments, the same every time."""
    ids = ",".join(sorted(a.id for a in assignments))
    return uuid.uuid5(_FACTS, f"{fact}:{ids}").hex


def event_id_of(e: DispatchEvent) -> str:
    match e:
        case UnitsAssigned() | UnitsReleased():
            return fact_id(type(e).__name__, e.assignments)
        case AssignmentAcknowledged() | AssignmentEscalated():
            return fact_id(type(e).__name__, [e.assignment])
    return uuid.uuid4().hex


def outgoing_event(e: DispatchEvent) -> OutgoingEvent:
    event_id = event_id_of(e)
    meta = event_metadata(event_id, e.time, e.actor)
    match e:
        case UnitsRecommended():
            rec = e.recommendation
            msg = events_pb2.UnitsRecommended(
                metadata=meta,
                recommendation=recommendation_to_proto(rec),
                priority=PRIORITY.to_proto(e.priority),
                awaiting_decision=e.awaiting_since is not None,
                awaiting_since=timestamp_or_none(e.awaiting_since),
            )
            return outgoing("icc.dispatch.recommended", event_id, msg, incident=rec.incident_id)
        case UnitsAssigned():
            assigned = events_pb2.UnitsAssigned(
                metadata=meta,
                incident=name_of("incidents", e.incident_id),
                priority=PRIORITY.to_proto(e.priority),
                assignments=[assignment_to_proto(a) for a in e.assignments],
                automatic=e.automatic,
                cautions=[caution_to_proto(c) for c in e.cautions],
            )
            units = [a.unit_id for a in e.assignments]
            return outgoing(
                "icc.dispatch.assigned", event_id, assigned, incident=e.incident_id, units=units
            )
        case AssignmentAcknowledged():
            acked = events_pb2.AssignmentAcknowledged(
                metadata=meta, assignment=assignment_to_proto(e.assignment)
            )
            return _about(e.assignment, "icc.dispatch.acknowledged", event_id, acked)
        case AssignmentEscalated():
            escalated = events_pb2.AssignmentEscalated(
                metadata=meta,
                assignment=assignment_to_proto(e.assignment),
                reason=e.reason.english,
                coded_reason=reason_to_proto(e.reason),
            )
            return _about(e.assignment, "icc.dispatch.escalated", event_id, escalated)
        case UnitsReleased():
            released = events_pb2.UnitsReleased(
                metadata=meta,
                incident=name_of("incidents", e.incident_id),
                assignments=[assignment_to_proto(a) for a in e.assignments],
                reason=e.reason.english if e.reason is not None else "",
                coded_reason=reason_to_proto(e.reason),
            )
            units = [a.unit_id for a in e.assignments]
            return outgoing(
                "icc.dispatch.released", event_id, released, incident=e.incident_id, units=units
            )


def _about(a: Assignment, subject: str, event_id: str, msg: Message) -> OutgoingEvent:
    """An event about one assignment, naming its incident and unit."""
    return outgoing(subject, event_id, msg, incident=a.incident_id, units=[a.unit_id])
