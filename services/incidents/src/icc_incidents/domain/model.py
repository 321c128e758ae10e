"""The incident and what it is made of."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar

from icc_kernel.actors import Actor
from icc_kernel.names import Named, name_of
from icc_kernel.reasons import Reason, english
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CallLine,
    CautionKind,
    DuplicateReason,
    EtaSource,
    IncidentState,
    Priority,
)

COLLECTION = "incidents"
CAUTIONS = "cautions"


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
    # Set when the caller is recorded (the first at creation, others by AddCaller).
    call_time: datetime | None = None
    call_line: CallLine | None = None


@dataclass(frozen=True)
class Assignment:
    name: str
    unit: str
    call_sign: str
    agency: Agency
    state: AssignmentState
    assign_time: datetime | None = None
    release_time: datetime | None = None
    # The trip dispatch chose the unit for (0 and None when unknown).
    eta_s: int = 0
    distance_m: int = 0
    eta_source: EtaSource | None = None

    @property
    def active(self) -> bool:
        return self.state != AssignmentState.RELEASED


def note_name(incident_id: str, note_id: int) -> str:
    return f"{name_of(COLLECTION, incident_id)}/notes/{note_id}"


@dataclass(frozen=True)
class Note:
    id: int
    text: str
    author: Actor
    create_time: datetime


@dataclass(frozen=True)
class PossibleDuplicate:
    """An incident a call may be about, and why (no personal data)."""

    incident: str
    reasons: tuple[DuplicateReason, ...]
    distance_m: float
    type_code: str
    state: IncidentState
    create_time: datetime
    summary: str


@dataclass(frozen=True)
class Caution:
    """A premise caution: a danger at a point or within a radius of it, until a time."""

    id: str
    kind: CautionKind
    text: str
    location: Location
    radius_m: float
    valid_until: datetime
    created_by: Actor
    create_time: datetime

    @property
    def name(self) -> str:
        return name_of(CAUTIONS, self.id)


@dataclass(frozen=True)
class PlaceHistory:
    """Earlier incidents of one family near a place, over the last `days`."""

    family: str
    count: int
    days: int


@dataclass(frozen=True)
class KeyAnswer:
    question: str
    answer: str


@dataclass(frozen=True)
class Incident(Named):
    COLLECTION: ClassVar[str] = COLLECTION

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
    call_line: CallLine = CallLine.OTHER
    # What intake found: calls this may repeat, cautions in force, the place's history.
    possible_duplicates: tuple[PossibleDuplicate, ...] = ()
    cautions: tuple[Caution, ...] = ()
    history: tuple[PlaceHistory, ...] = ()
    answers: tuple[KeyAnswer, ...] = ()
    instructions: tuple[str, ...] = ()
    # Further callers (personal data, like `caller`): loaded with the notes.
    additional_callers: tuple[Caller, ...] = field(default=(), compare=False)
    caller_count: int = 1

    @property
    def involved(self) -> frozenset[Agency]:
        """The agencies involved: those in `agencies` and those that hold (or held) an
        assigned unit. A partner reads the incidents its agency is involved in."""
        return frozenset((*self.agencies, *(a.agency for a in self.assignments)))

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
    # What happened, as codes with parameters (no personal data).
    reasons: tuple[Reason, ...]

    @property
    def detail(self) -> str:
        """The same in English, for older clients."""
        return english(self.reasons)


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents a listing holds (every condition given must hold)."""

    states: tuple[IncidentState, ...] = ()
    agency: Agency | None = None
    priorities: tuple[Priority, ...] = ()
    created_after: datetime | None = None
    created_before: datetime | None = None
    # The caller's scope: only incidents this agency is involved in; drills or not.
    involving: Agency | None = None
    drills: bool = True
