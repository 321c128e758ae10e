"""What a dispatcher reads: an incident's dispatch status, and a recommendation."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from icc_dispatch.domain.model import Assignment, IncidentView
from icc_dispatch.domain.plans import Need, PlanBook, ResponsePlan, needs
from icc_dispatch.domain.ranking import Recommendation
from icc_dispatch.use_cases.ports import Records
from icc_dispatch.use_cases.recommending import Recommender


@dataclass(frozen=True)
class Status:
    incident: IncidentView
    plan: ResponsePlan
    assignments: list[Assignment]
    needs: list[Need]


@dataclass
class Queries:
    records: Records
    plans: PlanBook
    recommender: Recommender
    clock: Callable[[], datetime]

    async def status(self, incident_id: str) -> Status:
        async with self.records.read() as reads:
            case = await reads.case(incident_id)
            assignments = await reads.assignments_of(incident_id)
        incident = case.incident
        plan = self.plans.plan(incident.type_code, incident.priority, self.clock())
        return Status(incident, plan, assignments, needs(plan, assignments))

    async def recommend(self, incident_id: str, per_role: int) -> Recommendation:
        async with self.records.read() as reads:
            case = await reads.case(incident_id)
            assignments = await reads.assignments_of(incident_id)
        return await self.recommender.for_case(case, assignments, per_role)
