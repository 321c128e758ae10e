"""What dispatch announces, in the domain's words. The use cases record these with their
writes; `icc_dispatch.outbox_events` turns each into the contract's protobuf event."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from icc_dispatch.domain.model import SYSTEM, Actor, Assignment, Caution, Priority
from icc_dispatch.domain.ranking import Recommendation
from icc_kernel.reasons import Reason


@dataclass(frozen=True, kw_only=True)
class Event:
    """Who made it happen, and when."""

    actor: Actor
    time: datetime


@dataclass(frozen=True, kw_only=True)
class UnitsRecommended(Event):
    """A dispatcher is told what to send (a human decides, or must know of a shortfall)."""

    recommendation: Recommendation
    priority: Priority
    # A P3/P4 incident waits for a dispatcher's decision, since then (None: it does not).
    awaiting_since: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class UnitsAssigned(Event):
    incident_id: str
    priority: Priority
    assignments: tuple[Assignment, ...]
    # The incident's premise cautions, for the units assigned.
    cautions: tuple[Caution, ...] = ()

    @property
    def automatic(self) -> bool:
        return self.actor == SYSTEM


@dataclass(frozen=True, kw_only=True)
class AssignmentAcknowledged(Event):
    assignment: Assignment


@dataclass(frozen=True, kw_only=True)
class AssignmentEscalated(Event):
    """Not acknowledged in time: the unit is released and the next best is sent."""

    assignment: Assignment
    reason: Reason


@dataclass(frozen=True, kw_only=True)
class UnitsReleased(Event):
    incident_id: str
    assignments: tuple[Assignment, ...]
    reason: Reason | None

    @classmethod
    def of(cls, released: Sequence[Assignment], actor: Actor, time: datetime) -> "UnitsReleased":
        """One incident's assignments released together, for the reason they record."""
        first = released[0]
        return cls(
            incident_id=first.incident_id,
            assignments=tuple(released),
            reason=first.release,
            actor=actor,
            time=time,
        )


DispatchEvent = (
    UnitsRecommended | UnitsAssigned | AssignmentAcknowledged | AssignmentEscalated | UnitsReleased
)
