"""The incident and what it is made of."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum


class Agency(IntEnum):
    # Values match icc.common.v1.Agency.
    POLICE = 1
    FIRE = 2
    MEDICAL = 3
    COMMAND_CENTER = 4
    UTILITY = 5


class Priority(IntEnum):
    P1 = 1
    P2 = 2
    P3 = 3
    P4 = 4


class IncidentState(IntEnum):
    # Values match icc.incident.v1.IncidentState.
    NEW = 1
    DISPATCHED = 2
    EN_ROUTE = 3
    ON_SCENE = 4
    CLOSED = 5
    MERGED = 6
    CANCELLED = 7

    @property
    def terminal(self) -> bool:
        return self in (IncidentState.CLOSED, IncidentState.MERGED, IncidentState.CANCELLED)


class AssignmentState(IntEnum):
    PROPOSED = 1
    ASSIGNED = 2
    ACKNOWLEDGED = 3
    RELEASED = 4


@dataclass(frozen=True)
class Actor:
    user: str
    agency: Agency
    role: str = ""


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    address: str = ""
    ward: str = ""


@dataclass(frozen=True)
class Caller:
    """Personal data: stays in this service (never in events, spans or logs)."""

    name: str = ""
    phone: str = ""
    language: str = ""


@dataclass(frozen=True)
class Assignment:
    name: str
    unit: str
    call_sign: str
    agency: Agency
    state: AssignmentState
    assign_time: datetime | None = None
    release_time: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state != AssignmentState.RELEASED


@dataclass(frozen=True)
class Note:
    id: int
    text: str
    author: Actor
    create_time: datetime


@dataclass(frozen=True)
class Incident:
    id: str
    type_code: str
    priority: Priority
    state: IncidentState
    location: Location
    agencies: tuple[Agency, ...]
    caller: Caller
    description: str
    exercise: bool
    created_by: Actor
    create_time: datetime
    update_time: datetime
    # Bumped by every change; the etag and the chronology sequence derive from it.
    version: int = 1
    first_dispatch_time: datetime | None = None
    first_on_scene_time: datetime | None = None
    close_time: datetime | None = None
    merged_into: str | None = None
    resolution: str = ""
    assignments: tuple[Assignment, ...] = ()
    notes: tuple[Note, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        return f"incidents/{self.id}"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def active_assignments(self) -> tuple[Assignment, ...]:
        return tuple(a for a in self.assignments if a.active)

    def bumped(self, now: datetime, **changes: object) -> "Incident":
        """A copy with `changes` applied, the next version and `update_time = now`."""
        return replace(self, version=self.version + 1, update_time=now, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChronologyEntry:
    incident_id: str
    sequence: int
    time: datetime
    actor: Actor
    action: str
    detail: str
