"""Dispatcher roles, the signed-in user, and who may see callers' personal data."""

from icc_gateway.domain.model import Shape
from icc_gateway.domain.names import AgencyName
from icc_kernel.roles import Role
from icc_kernel.vocabulary import Agency

# The agencies an account may act for: every agency of the contract.
AGENCIES = tuple(Agency.__members__)

__all__ = ["AGENCIES", "Role", "User", "may_see_personal_data"]


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
