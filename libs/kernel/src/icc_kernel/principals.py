"""Who calls, proven (`Principal`), and what a call may see (`Scope`).

A principal comes from the caller's verified certificate (`icc_pki`), or, for a person
signed in at the gateway, from the gateway's signed assertion; `icc_rpc` decides from the
service's policy whether it may call and hands the servicer its `Scope`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from icc_kernel.actors import Actor
from icc_kernel.roles import Role
from icc_kernel.vocabulary import Agency


class Kind(StrEnum):
    """What a certificate names (`spiffe://icc.hcmc/<kind>/<name>`), or a person."""

    SERVICE = "service"
    PARTNER = "partner"
    HOSPITAL = "hospital"
    DEVICE = "device"
    ENGINEER = "engineer"
    GATEWAY = "gateway"
    # Signed in at the gateway, which acts for them (never in a certificate).
    PERSON = "person"


@dataclass(frozen=True)
class Principal:
    kind: Kind
    # The certificate's name (`police-113`, `dispatch`, a unit or hospital id), or a
    # person's user name.
    name: str
    agency: Agency
    # A `Role` for partners and persons; the kind's own word for the others.
    role: str
    # Takes part in exercises: drills are shown to it.
    exercises: bool
    # The SPIFFE ID of the certificate the call came through (the gateway's, for a person).
    system: str

    @property
    def center(self) -> bool:
        """Staff of the command center: people signed in at its screen, and its own
        client certificates (a partner certificate of the COMMAND_CENTER agency)."""
        return self.kind is Kind.PERSON or (
            self.kind is Kind.PARTNER and self.agency is Agency.COMMAND_CENTER
        )

    @property
    def person_role(self) -> Role | None:
        """The role of a person or a partner; None for systems."""
        if self.kind in (Kind.PERSON, Kind.PARTNER) and self.role in _ROLES:
            return Role(self.role)
        return None

    def actor(self) -> Actor:
        """Who a change is recorded as: the person (and the system they came through)."""
        via = self.system if self.kind is Kind.PERSON else ""
        return Actor(user=self.name, agency=self.agency, role=self.role, via=via)

    def describe(self) -> str:
        """For refusals: `partner police-113 (POLICE viewer)`."""
        return f"{self.kind} {self.name} ({self.agency.name} {self.role})"


_ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True)
class Scope:
    """What one call may see and touch, decided by the service's policy for its caller."""

    principal: Principal
    # Only records this agency is involved in or owns; None: every agency's.
    agency: Agency | None = None
    # Callers' names and phones, notes.
    personal_data: bool = False
    # Drills (`exercise` incidents).
    exercises: bool = False
    # A device: only this unit. A hospital: only this hospital.
    unit: str | None = None
    hospital: str | None = None

    def sees_incident(self, involved: Iterable[Agency], exercise: bool) -> bool:
        """An incident with these involved agencies (its `agencies` and those holding an
        assigned unit) is visible to this call."""
        if exercise and not self.exercises:
            return False
        return self.agency is None or self.agency in set(involved)

    def owns_unit(self, unit_id: str, unit_agency: Agency) -> bool:
        """The call may change this unit: a device its own unit, an agency its own units."""
        if self.unit is not None:
            return unit_id == self.unit
        return self.agency is None or unit_agency is self.agency
