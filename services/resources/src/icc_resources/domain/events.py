"""What the resources service announces, in the domain's words.

Use cases return them; `icc_resources.events` turns each into its protobuf event on the
outbox, and the store keeps each in the history (`subject`, `action`, `detail`)."""

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from icc_kernel.actors import Actor
from icc_kernel.vocabulary import UnitStatus
from icc_resources.domain.model import Hospital, Unit


@dataclass(frozen=True)
class UnitStatusChanged:
    """`unit` as it now is, after `previous`; `reason` says why (a report, a reservation)."""

    action: ClassVar[str] = "status_changed"
    unit: Unit
    previous: UnitStatus
    reason: str
    actor: Actor
    time: datetime

    @property
    def subject(self) -> str:
        return self.unit.name

    @property
    def detail(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"{self.previous.name} -> {self.unit.status.name}{why}"


@dataclass(frozen=True)
class HospitalCapacityChanged:
    """`hospital` with the capacity and diversion it now reports."""

    action: ClassVar[str] = "capacity_changed"
    hospital: Hospital
    actor: Actor
    time: datetime

    @property
    def subject(self) -> str:
        return self.hospital.name

    @property
    def detail(self) -> str:
        return f"diversion {self.hospital.diversion.name}"


ResourceEvent = UnitStatusChanged | HospitalCapacityChanged
