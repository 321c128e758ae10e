"""What dispatch reasons about: units as it sees them, incidents as it copies them, assignments."""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum

# Places are the city's points, the contract's words the kernel's (re-exported: the rest
# of dispatch names them from here).
from icc_city.geo import Point as Point
from icc_kernel.actors import Actor as Actor
from icc_kernel.names import name_of
from icc_kernel.reasons import Reason
from icc_kernel.vocabulary import Agency as Agency
from icc_kernel.vocabulary import AssignmentState as AssignmentState
from icc_kernel.vocabulary import CautionKind as CautionKind
from icc_kernel.vocabulary import EtaSource as EtaSource
from icc_kernel.vocabulary import Priority as Priority
from icc_kernel.vocabulary import UnitKind as UnitKind
from icc_kernel.vocabulary import UnitStatus as UnitStatus

SYSTEM = Actor("dispatch", Agency.COMMAND_CENTER, "system")


@dataclass(frozen=True)
class FleetUnit:
    """A unit as dispatch last heard of it from the resources service."""

    id: str
    call_sign: str
    agency: Agency
    kind: UnitKind
    status: UnitStatus
    home_station: str
    # The home station's location: where a unit with no fresh position is assumed to be.
    home: Point
    incident_id: str | None = None
    position: Point | None = None
    # The resources service's version of the unit: older news is ignored.
    version: int = 0

    @property
    def location(self) -> Point:
        return self.position or self.home

    @property
    def available(self) -> bool:
        return self.status is UnitStatus.AVAILABLE and self.incident_id is None

    def moved(self, position: Point | None) -> "FleetUnit":
        return replace(self, position=position)


@dataclass(frozen=True)
class Caution:
    """A premise caution the incident carries, as the incidents service entered it: what
    the units sent there must know. Dispatch does not judge it; it passes it on."""

    name: str
    kind: CautionKind
    text: str
    point: Point
    address: str
    ward: str
    radius_m: float
    valid_until: datetime | None
    created_by: Actor
    create_time: datetime | None


class IncidentPhase(IntEnum):
    OPEN = 1
    # Closed, cancelled or merged: nothing more is sent.
    ENDED = 2


@dataclass(frozen=True)
class IncidentView:
    """Dispatch's copy of what it needs of an incident (never the caller's details)."""

    id: str
    type_code: str
    priority: Priority
    location: Point
    phase: IncidentPhase
    create_time: datetime
    # The incidents service's version: older events are ignored.
    version: int
    auto: bool
    exercise: bool = False
    # Passed on to the units assigned.
    cautions: tuple[Caution, ...] = ()

    @property
    def name(self) -> str:
        return name_of("incidents", self.id)

    def copies_like(self, other: "IncidentView") -> bool:
        """The same in everything dispatch plans by (type, priority, place, phase) and
        passes on (cautions)."""
        return (
            self.type_code == other.type_code
            and self.priority == other.priority
            and self.location == other.location
            and self.phase == other.phase
            and self.cautions == other.cautions
        )


@dataclass(frozen=True)
class Assignment:
    id: str
    incident_id: str
    unit_id: str
    call_sign: str
    agency: Agency
    kind: UnitKind
    role: str
    state: AssignmentState
    # The estimated trip when the unit was chosen (0 when no route was known).
    eta_s: int
    # The reservation this assignment belongs to (all or nothing with its siblings).
    request_id: str
    assigned_by: Actor
    create_time: datetime
    assign_time: datetime | None = None
    ack_deadline: datetime | None = None
    ack_time: datetime | None = None
    release_time: datetime | None = None
    override_reason: str = ""
    # Why it was released (None while it holds its unit).
    release: Reason | None = None
    # The resources service still has to hear of a release (recorded here first).
    release_pending: bool = False
    # Released before it served (not acknowledged in time, out of service on the
    # way): its role in the plan is open again.
    vacated: bool = False
    # The unit's version at the resources service when reserved: older news of it
    # (an event from before the reservation) says nothing about this assignment.
    unit_version: int = 0
    distance_m: int = 0
    eta_source: EtaSource | None = None
    # Where a transporting unit takes its patient (a hospital id; "" for other units).
    destination_hospital: str = ""

    @property
    def name(self) -> str:
        return name_of("assignments", self.id)

    @property
    def release_reason(self) -> str:
        """Why it was released, in English words (or the dispatcher's own)."""
        return self.release.english if self.release is not None else ""

    @property
    def active(self) -> bool:
        """Holds (or is about to hold) its unit."""
        return self.state is not AssignmentState.RELEASED

    @property
    def fills_role(self) -> bool:
        return self.active or not self.vacated

    @property
    def override(self) -> bool:
        return bool(self.override_reason)
