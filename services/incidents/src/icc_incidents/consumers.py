"""Bus handlers: dispatch's assignments and units' progress move the incident along."""

from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_pb2
from icc_bus import (
    HEADER_INCIDENT_ID,
    ConsumerSpec,
    EventTypes,
    PoisonMessage,
    ReceivedEvent,
    by_header,
)
from icc_incidents.convert import agency_or_center, assignment_from_dispatch
from icc_incidents.service import IncidentService
from icc_kernel.actors import Actor
from icc_kernel.errors import InvalidInput, NotFound
from icc_kernel.vocabulary import Agency, IncidentState

# Events about one incident in stream order; a unit's status held by no incident, by
# its subject (the unit).
BY_INCIDENT = by_header(HEADER_INCIDENT_ID)
DISPATCH = ConsumerSpec(
    stream="ICC_DISPATCH",
    durable="incidents-dispatch",
    filter_subject="icc.dispatch.>",
    order_key=BY_INCIDENT,
)
UNITS = ConsumerSpec(
    stream="ICC_UNIT",
    durable="incidents-units",
    filter_subject="icc.unit.status.>",
    deliver_new_only=True,
    order_key=BY_INCIDENT,
)
DISPATCH_EVENTS = EventTypes(
    [
        dispatch_events.UnitsRecommended,
        dispatch_events.UnitsAssigned,
        dispatch_events.AssignmentAcknowledged,
        dispatch_events.AssignmentEscalated,
        dispatch_events.UnitsReleased,
    ]
)
UNIT_EVENTS = EventTypes([resource_events.UnitStatusChanged])
_PROGRESS = {
    resource_pb2.UNIT_STATUS_EN_ROUTE: IncidentState.EN_ROUTE,
    resource_pb2.UNIT_STATUS_ON_SCENE: IncidentState.ON_SCENE,
}
DISPATCH_ACTOR = Actor("dispatch", Agency.COMMAND_CENTER, "system")


class Consumers:
    def __init__(self, service: IncidentService) -> None:
        self._service = service

    async def on_dispatch(self, event: ReceivedEvent) -> None:
        msg = DISPATCH_EVENTS.decode(event.event_type, event.payload)
        if isinstance(msg, dispatch_events.UnitsAssigned):
            items = list(msg.assignments)
            how = "automatically" if msg.automatic else "by a dispatcher"
            detail = f"assigned {how}: " + ", ".join(a.call_sign for a in items)
        elif isinstance(msg, dispatch_events.AssignmentAcknowledged):
            items = [msg.assignment]
            detail = f"{msg.assignment.call_sign} acknowledged"
        elif isinstance(msg, dispatch_events.AssignmentEscalated):
            items = [msg.assignment]
            detail = f"{msg.assignment.call_sign} escalated: {msg.reason}"
        elif isinstance(msg, dispatch_events.UnitsReleased):
            items = list(msg.assignments)
            detail = "released: " + ", ".join(a.call_sign for a in items)
            if msg.reason:
                detail += f" ({msg.reason})"
        else:
            return  # recommendations are for dispatchers, not for the incident record
        if not items:
            raise PoisonMessage(f"{event.event_type} without assignments")
        incident = items[0].incident.removeprefix("incidents/")
        try:
            updates = tuple(assignment_from_dispatch(a) for a in items)
        except (ValueError, InvalidInput) as exc:
            raise PoisonMessage(f"bad assignment in {event.event_type}: {exc}") from exc
        try:
            await self._service.apply_dispatch(
                DISPATCH.durable, event.event_id, incident, updates, detail[:500], DISPATCH_ACTOR
            )
        except NotFound as exc:
            raise PoisonMessage(f"assignment for an unknown incident: {exc}") from exc

    async def on_unit(self, event: ReceivedEvent) -> None:
        msg = UNIT_EVENTS.decode(event.event_type, event.payload)
        assert isinstance(msg, resource_events.UnitStatusChanged)
        to = _PROGRESS.get(msg.unit.status)
        incident = msg.unit.incident.removeprefix("incidents/")
        if to is None or not incident:
            return
        actor = Actor(msg.unit.call_sign or "unit", agency_or_center(msg.unit.agency), "unit")
        try:
            await self._service.apply_unit_status(
                UNITS.durable, event.event_id, incident, to, msg.unit.call_sign, actor
            )
        except NotFound:
            return  # a unit held for an incident this service does not know: not ours
