"""Unit and hospital events on the bus: the domain's events in, protobuf events on the
outbox out. The one place this service builds its events."""

import uuid
from collections.abc import Callable

from google.protobuf.message import Message

from icc.resource.v1 import events_pb2
from icc_bus import OutgoingEvent, outgoing
from icc_resources import store
from icc_resources.convert import hospital_to_proto, unit_to_proto
from icc_resources.domain.events import HospitalCapacityChanged, ResourceEvent, UnitStatusChanged
from icc_rpc.convert import UNIT_STATUS, event_metadata
from icc_storage import WriteTx, add_events

UNIT_STATUS_SUBJECT = "icc.unit.status."
HOSPITAL_SUBJECT = "icc.hospital."


def outgoing_for(event: ResourceEvent) -> OutgoingEvent:
    """The bus event announcing a change, with a new id and the current trace context."""
    event_id = uuid.uuid4().hex
    meta = event_metadata(event_id, event.time, event.actor)
    message: Message
    if isinstance(event, UnitStatusChanged):
        unit = event.unit
        message = events_pb2.UnitStatusChanged(
            metadata=meta,
            unit=unit_to_proto(unit),
            previous_status=UNIT_STATUS.to_proto(event.previous),
            reason=event.reason,
        )
        return outgoing(
            UNIT_STATUS_SUBJECT + unit.id,
            event_id,
            message,
            incident=unit.incident_id or "",
            units=(unit.id,),
        )
    assert isinstance(event, HospitalCapacityChanged)
    message = events_pb2.HospitalCapacityChanged(
        metadata=meta, hospital=hospital_to_proto(event.hospital)
    )
    return outgoing(HOSPITAL_SUBJECT + "capacity_changed", event_id, message)


def staged(event: ResourceEvent) -> Callable[[WriteTx], None]:
    """The event built now, put on the outbox of the write that calls the result."""
    built = outgoing_for(event)
    return lambda tx: add_events(tx, store.outbox, [built])
