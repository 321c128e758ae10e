"""Bus handlers: dispatch's assignments and units' progress move the incident along."""

from icc.common.v1 import common_pb2
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
from icc_incidents.progress import Progress
from icc_kernel.actors import Actor
from icc_kernel.errors import InvalidInput, NotFound
from icc_kernel.reasons import Reason, ReasonCode, listed
from icc_kernel.vocabulary import Agency, IncidentState
from icc_rpc.convert import reasons_from_proto

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
R = ReasonCode
# The most characters of a reason's words taken from an event (a dispatcher's are fewer).
MAX_WORDS = 500


def _why(coded: common_pb2.Reason, words: str) -> tuple[Reason, ...]:
    """Why dispatch ended an assignment: its code, or (from a dispatch that predates the
    codes) its words."""
    found = reasons_from_proto([coded])
    if found:
        return (found[0],)
    return (Reason.of(R.TEXT, text=words[:MAX_WORDS]),) if words else ()


class Consumers:
    def __init__(self, progress: Progress) -> None:
        self._progress = progress

    async def on_dispatch(self, event: ReceivedEvent) -> None:
        msg = DISPATCH_EVENTS.decode(event.event_type, event.payload)
        said: tuple[Reason, ...]
        if isinstance(msg, dispatch_events.UnitsAssigned):
            items = list(msg.assignments)
            how = R.ASSIGNED_AUTOMATICALLY if msg.automatic else R.ASSIGNED_BY_DISPATCHER
            said = (Reason.of(how, units=listed(a.call_sign for a in items)),)
        elif isinstance(msg, dispatch_events.AssignmentAcknowledged):
            items = [msg.assignment]
            said = (Reason.of(R.ACKNOWLEDGED, unit=msg.assignment.call_sign),)
        elif isinstance(msg, dispatch_events.AssignmentEscalated):
            items = [msg.assignment]
            said = (
                Reason.of(R.ESCALATED, unit=msg.assignment.call_sign),
                *_why(msg.coded_reason, msg.reason),
            )
        elif isinstance(msg, dispatch_events.UnitsReleased):
            items = list(msg.assignments)
            said = (
                Reason.of(R.RELEASED, units=listed(a.call_sign for a in items)),
                *_why(msg.coded_reason, msg.reason),
            )
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
            await self._progress.apply_dispatch(
                DISPATCH.durable, event.event_id, incident, updates, said, DISPATCH_ACTOR
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
            await self._progress.apply_unit_status(
                UNITS.durable, event.event_id, incident, to, msg.unit.call_sign, actor
            )
        except NotFound:
            return  # a unit held for an incident this service does not know: not ours
