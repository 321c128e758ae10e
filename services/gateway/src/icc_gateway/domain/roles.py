"""Dispatcher roles, the signed-in user, and who may see callers' personal data."""

from enum import StrEnum

from icc_gateway.domain.model import Shape
from icc_gateway.domain.names import AgencyName
from icc_kernel.vocabulary import Agency

# The agencies an account may act for: every agency of the contract.
AGENCIES = tuple(Agency.__members__)


class Role(StrEnum):
    """Each role includes the ones before it."""

    VIEWER = "viewer"
    CALL_TAKER = "call_taker"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: "Role") -> bool:
        return self.rank >= other.rank


_RANKS = {role: n for n, role in enumerate(Role)}


class User(Shape):
    """A signed-in dispatcher (the `User` of API.md)."""

    username: str
    display_name: str
    role: Role
    agency: AgencyName


def may_see_personal_data(role: Role, incident_open: bool) -> bool:
    """Callers' details and notes (which may hold medical details): call takers and
    dispatchers for the incidents they work (open ones), supervisors for every incident,
    viewers never."""
    if role is Role.SUPERVISOR:
        return True
    return incident_open and role.includes(Role.CALL_TAKER)
