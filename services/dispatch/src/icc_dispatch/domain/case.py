"""Dispatch's case of an incident: its copy of the incident and where dispatch stands
with it, and the rules that move it along.

The incidents service owns the incident; dispatch keeps what it plans by (`IncidentView`)
and its own state beside it: whether the loop must look at it, what it waits for, which
units it must not be offered again, what a dispatcher was last told.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from icc_dispatch.domain.model import Assignment, IncidentView, UnitKind
from icc_dispatch.domain.ranking import STAND_INS, Recommendation


@dataclass(frozen=True)
class Case:
    incident: IncidentView
    # Bumped by every dispatch decision: two replicas cannot both act on one state.
    rev: int
    # The dispatch loop must look at it (it may need units).
    attention: bool
    # Auto-dispatched but short of units: looked at again when one of `waiting_for` frees up.
    waiting: bool
    waiting_for: frozenset[UnitKind]
    # Units not offered to it again (escalated away).
    excluded: frozenset[str]
    # The incident version last recommended to a dispatcher (0: never).
    recommended_version: int
    # W3C headers (JSON) of the latest news: the dispatch work it causes continues that trace.
    trace_context: str

    @property
    def id(self) -> str:
        return self.incident.id

    def chosen_for(self, rec: Recommendation) -> tuple["Case", bool]:
        """The case once its recommendation is settled with nothing reserved: it waits for
        the units it lacks (when auto-dispatched), and whether a dispatcher is told (a
        human is needed, and was not told of this version of the incident)."""
        incident = self.incident
        tell = (not incident.auto or rec.mutual_aid or bool(rec.shortfalls)) and (
            self.recommended_version != incident.version
        )
        settled = replace(
            self,
            attention=False,
            waiting=incident.auto and bool(rec.shortfalls),
            waiting_for=waiting_kinds(rec),
            recommended_version=incident.version if tell else self.recommended_version,
        )
        return settled, tell


def is_news(stored: IncidentView | None, view: IncidentView) -> bool:
    """Whether an incident event (`view`) changes anything dispatch plans by or passes on
    (cautions), given the copy dispatch has (`stored`, None for none).

    Most updates are the incident recording what dispatch did (its assignments); they
    need no write here. Skipping them is safe for ordering: a later relevant change is
    compared with the stored (older) copy, and an older event is ignored by its version.
    """
    if stored is None:
        return True
    if stored.version >= view.version:
        return False
    return not stored.copies_like(view)


def awaiting_since(incident: IncidentView, assignments: Iterable[Assignment]) -> datetime:
    """Since when an incident's plan has waited for a dispatcher: its creation, or the
    latest release that left a role of its plan open again."""
    vacated = [a.release_time for a in assignments if a.vacated and a.release_time is not None]
    return max([incident.create_time, *vacated])


def waiting_kinds(rec: Recommendation) -> frozenset[UnitKind]:
    """Unit kinds whose coming free could fill what the recommendation lacks."""
    kinds: set[UnitKind] = set()
    for shortfall in rec.shortfalls:
        item = rec.plan.item(shortfall.role)
        if item is not None:
            kinds.update(item.kinds)
        kinds.update(STAND_INS.get(shortfall.agency, ()))
    return frozenset(kinds)
