"""The roles of people who work incidents, the same at the command center and at a partner
agency: each role includes the ones before it."""

from enum import StrEnum


class Role(StrEnum):
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
