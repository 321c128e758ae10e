"""Bus handlers: incident events and unit status events into the dispatch service."""

from icc.incident.v1 import events_pb2 as incident_events
from icc.resource.v1 import events_pb2 as resource_events
from icc_bus import (
    HEADER_INCIDENT_ID,
    ConsumerSpec,
    EventTypes,
    PoisonMessage,
    ReceivedEvent,
    by_header,
    messages_of,
)
from icc_dispatch.convert import incident_view, version
from icc_dispatch.domain.model import Priority
from icc_dispatch.service import DispatchService
from icc_dispatch.use_cases.intake import INCIDENT_CONSUMER, UNIT_CONSUMER
from icc_kernel.names import id_of
from icc_rpc.convert import UNIT_STATUS

# A short ack wait: an incident fetched by a replica that then dies comes back
# to another in seconds, not half a minute (handlers take milliseconds, and a
# redelivery of one still running is absorbed by the inbox).
ACK_WAIT_S = 5.0
# Events about one incident in stream order; a unit's status held by no incident, by
# its subject (the unit).
BY_INCIDENT = by_header(HEADER_INCIDENT_ID)
INCIDENTS = ConsumerSpec(
    "ICC_INCIDENT",
    INCIDENT_CONSUMER,
    "icc.incident.>",
    ack_wait_s=ACK_WAIT_S,
    order_key=BY_INCIDENT,
)
# Only news from now on: old unit history says nothing about today's assignments.
UNITS = ConsumerSpec(
    "ICC_UNIT",
    UNIT_CONSUMER,
    "icc.unit.status.>",
    deliver_new_only=True,
    ack_wait_s=ACK_WAIT_S,
    order_key=BY_INCIDENT,
)

INCIDENT_EVENTS = EventTypes(messages_of(incident_events))
UNIT_EVENTS = EventTypes([resource_events.UnitStatusChanged])


class Consumers:
    def __init__(self, service: DispatchService, auto_priorities: frozenset[Priority]) -> None:
        self._service = service
        self._auto = auto_priorities

    async def on_incident(self, event: ReceivedEvent) -> None:
        msg = INCIDENT_EVENTS.decode(event.event_type, event.payload)
        incident = getattr(msg, "incident", None)
        if incident is None or not incident.name:
            raise PoisonMessage(f"{event.event_type} without an incident")
        await self._service.on_incident(event.event_id, incident_view(incident, self._auto))
        if isinstance(msg, incident_events.IncidentMerged) and msg.duplicate.name:
            # The duplicate ended: its own id keeps the inbox entry distinct.
            await self._service.on_incident(
                event.event_id + ":duplicate", incident_view(msg.duplicate, self._auto)
            )

    async def on_unit(self, event: ReceivedEvent) -> None:
        msg = UNIT_EVENTS.decode(event.event_type, event.payload)
        assert isinstance(msg, resource_events.UnitStatusChanged)
        unit = msg.unit
        status = UNIT_STATUS.required(unit.status, "unit.status", [])
        if not unit.name or status is None:
            raise PoisonMessage("unit status event without a unit or with an unknown status")
        await self._service.on_unit_status(
            event.event_id,
            id_of(unit.name),
            status,
            id_of(unit.incident) or None,
            version(unit.etag),
        )
