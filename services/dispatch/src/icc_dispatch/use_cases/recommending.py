"""A recommendation for an incident: its plan now, what it still needs, the nearest
candidates ranked by travel time (the routing engine's, or the travel model's when the
engine is down)."""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from icc_dispatch.domain.case import Case
from icc_dispatch.domain.eta import Eta, EtaProvider, TravelModel, Trip
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import Assignment, FleetUnit, IncidentView, Point
from icc_dispatch.domain.plans import PlanBook, needs
from icc_dispatch.domain.ranking import Recommendation, rank, shortlist
from icc_dispatch.use_cases.settings import Settings
from icc_kernel.vocabulary import EtaSource

log = logging.getLogger(__name__)


@dataclass
class Recommender:
    plans: PlanBook
    fleet: Fleet
    eta: EtaProvider
    settings: Settings
    clock: Callable[[], datetime]
    fallback: TravelModel = field(default_factory=TravelModel)

    async def for_case(
        self, case: Case, assignments: Sequence[Assignment], per_role: int
    ) -> Recommendation:
        return await self.recommend(case.incident, case.excluded, assignments, per_role)

    async def recommend(
        self,
        incident: IncidentView,
        excluded: frozenset[str],
        assignments: Sequence[Assignment],
        per_role: int,
    ) -> Recommendation:
        now = self.clock()
        plan = self.plans.plan(incident.type_code, incident.priority, now)
        exclude = excluded | {a.unit_id for a in assignments if a.active}
        lists = shortlist(
            needs(plan, assignments), self.fleet, incident.location, per_role, exclude
        )
        units = {u.id: u for sl in lists for u in (*sl.units, *sl.stand_ins)}
        etas, source = await self.etas(list(units.values()), incident.location, now)
        return rank(
            incident.id,
            plan,
            lists,
            etas,
            self.fleet,
            per_role=per_role,
            eta_source=source,
            now=now,
            mutual_aid_eta_s=self.settings.mutual_aid_eta_s,
        )

    async def etas(
        self, units: list[FleetUnit], destination: Point, now: datetime
    ) -> tuple[dict[str, Eta | None], EtaSource]:
        """Each unit's travel time to `destination`, and where the times came from."""
        if not units:
            return {}, self.eta.source
        trips = [Trip(u.kind, u.location) for u in units]
        try:
            found = await self.eta.etas(trips, destination, now)
            source = self.eta.source
        except Exception as exc:
            # A routing engine that is down must not stop dispatch.
            log.warning(
                "ETA provider failed; using the travel model", extra={"error": type(exc).__name__}
            )
            found = await self.fallback.etas(trips, destination, now)
            source = EtaSource.TRAVEL_MODEL_FALLBACK
        return {u.id: e for u, e in zip(units, found, strict=True)}, source
