"""The simulated dispatcher's notebook: each of the simulator's incidents as it follows
them (units held, ambulances sent, whether a close is under way)."""

from dataclasses import dataclass, field

from icc.dispatch.v1 import dispatch_pb2
from icc.incident.v1 import incident_pb2
from icc.resource.v1 import resource_pb2
from icc_kernel.vocabulary import Priority
from icc_simulator.world.calls import Call

OPEN_STATES = (
    incident_pb2.INCIDENT_STATE_NEW,
    incident_pb2.INCIDENT_STATE_DISPATCHED,
    incident_pb2.INCIDENT_STATE_EN_ROUTE,
    incident_pb2.INCIDENT_STATE_ON_SCENE,
)
TERMINAL_STATES = (
    incident_pb2.INCIDENT_STATE_CLOSED,
    incident_pb2.INCIDENT_STATE_MERGED,
    incident_pb2.INCIDENT_STATE_CANCELLED,
)
AMBULANCES = (resource_pb2.UNIT_KIND_AMBULANCE_ALS, resource_pb2.UNIT_KIND_AMBULANCE_BLS)


@dataclass
class Track:
    """One of the simulator's incidents, as its dispatcher follows it."""

    name: str
    call: Call | None
    priority: Priority
    # Active assignments (`assignments/{id}`) and the units they hold.
    active: dict[str, str] = field(default_factory=dict)
    ever_assigned: bool = False
    # Distinct ambulances ever assigned (a mass casualty needs one per patient).
    ambulances: set[str] = field(default_factory=set)
    busy: bool = False  # a close is under way
    ended: bool = False
    queued_logged: bool = False

    @property
    def patients(self) -> int:
        return self.call.patients if self.call is not None else 0

    def assigned(self, items: list[dispatch_pb2.Assignment]) -> None:
        for a in items:
            self.active[a.name] = a.unit
            self.ever_assigned = True
            if a.kind in AMBULANCES:
                self.ambulances.add(a.unit)

    def released(self, items: list[dispatch_pb2.Assignment]) -> None:
        for a in items:
            self.active.pop(a.name, None)

    @property
    def ready_to_close(self) -> bool:
        """Every unit has cleared, none is coming, and nothing else is under way: the
        dispatcher may close it."""
        return (
            not self.active
            and self.ever_assigned
            and not (self.busy or self.ended)
            and self.patients <= len(self.ambulances)
        )


def how_ended(state: int) -> str:
    if state == incident_pb2.INCIDENT_STATE_MERGED:
        return "merged"
    if state == incident_pb2.INCIDENT_STATE_CANCELLED:
        return "cancelled"
    return "closed"
