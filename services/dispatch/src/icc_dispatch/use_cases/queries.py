"""What a dispatcher reads: an incident's dispatch status, a recommendation, and every
available unit ranked by ETA for a choice of their own."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from icc_dispatch.domain.case import awaiting_since
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import (
    Agency,
    Assignment,
    AssignmentState,
    EtaSource,
    IncidentPhase,
    IncidentView,
    UnitKind,
)
from icc_dispatch.domain.plans import Need, PlanBook, ResponsePlan, needs
from icc_dispatch.domain.ranking import Candidate, Recommendation, Shortfall, rank_available
from icc_dispatch.use_cases.ports import Records
from icc_dispatch.use_cases.recommending import Recommender
from icc_kernel.reasons import Reason, ReasonCode, listed


@dataclass(frozen=True)
class Status:
    incident: IncidentView
    plan: ResponsePlan
    assignments: list[Assignment]
    needs: list[Need]
    # Auto-dispatched and short of units: waits for some to come free.
    waiting: bool = False

    @property
    def ended(self) -> bool:
        return self.incident.phase is IncidentPhase.ENDED

    @property
    def reserving(self) -> bool:
        return any(a.state is AssignmentState.PROPOSED for a in self.assignments)

    @property
    def awaiting_decision(self) -> bool:
        """A P3/P4 whose plan has roles a dispatcher has yet to fill."""
        return not self.ended and not self.incident.auto and bool(self.needs)

    @property
    def awaiting_since(self) -> datetime | None:
        if not self.awaiting_decision:
            return None
        return awaiting_since(self.incident, self.assignments)

    @property
    def shortfalls(self) -> list[Shortfall]:
        """What the plan still needs, and why: a decision, units to come free, or the
        work under way (nothing once the incident ended)."""
        if self.ended:
            return []
        out = []
        for n in self.needs:
            if not self.incident.auto:
                why = Reason(ReasonCode.AWAITING_DISPATCHER)
            elif self.waiting:
                why = Reason.of(ReasonCode.WAITING_FOR_UNITS, kinds=listed(n.item.kinds))
            else:
                why = Reason(ReasonCode.NOT_YET_ASSIGNED)
            out.append(Shortfall(n.item.role, n.item.agency, n.missing, why))
        return out


@dataclass(frozen=True)
class Ranked:
    """Available units by ETA, for a dispatcher's own choice."""

    candidates: list[Candidate]
    eta_source: EtaSource
    mutual_aid_eta_s: int


@dataclass
class Queries:
    records: Records
    plans: PlanBook
    fleet: Fleet
    recommender: Recommender
    clock: Callable[[], datetime]

    async def status(self, incident_id: str) -> Status:
        async with self.records.read() as reads:
            case = await reads.case(incident_id)
            assignments = await reads.assignments_of(incident_id)
        incident = case.incident
        plan = self.plans.plan(incident.type_code, incident.priority, self.clock())
        return Status(incident, plan, assignments, needs(plan, assignments), case.waiting)

    async def recommend(self, incident_id: str, per_role: int) -> Recommendation:
        async with self.records.read() as reads:
            case = await reads.case(incident_id)
            assignments = await reads.assignments_of(incident_id)
        return await self.recommender.for_case(case, assignments, per_role)

    async def rank_available(
        self,
        incident_id: str,
        kinds: Iterable[UnitKind],
        agencies: Iterable[Agency],
        most: int,
    ) -> Ranked:
        """Every available unit of `kinds` and `agencies` (none given: all), nearest by
        ETA first, the `most` first of them (0: all)."""
        async with self.records.read() as reads:
            case = await reads.case(incident_id)
            assignments = await reads.assignments_of(incident_id)
        incident = case.incident
        now = self.clock()
        units = self.fleet.available(frozenset(kinds), frozenset(agencies))
        etas, source = await self.recommender.etas(units, incident.location, now)
        plan = self.plans.plan(incident.type_code, incident.priority, now)
        threshold = self.recommender.settings.mutual_aid_eta_s
        ranked = rank_available(
            units,
            etas,
            [n.item for n in needs(plan, assignments)],
            self.fleet,
            mutual_aid_eta_s=threshold,
            excluded=case.excluded,
        )
        return Ranked(ranked[:most] if most else ranked, source, threshold)
