"""What a dispatcher does: assign units (recommended or not), acknowledge for a unit,
release an incident's units."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.case import Case
from icc_dispatch.domain.errors import (
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
    Violation,
)
from icc_dispatch.domain.events import AssignmentAcknowledged
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import (
    Actor,
    Agency,
    Assignment,
    AssignmentState,
    FleetUnit,
    IncidentPhase,
)
from icc_dispatch.domain.plans import needs
from icc_dispatch.domain.ranking import NO_ETA, Candidate, Fit, Recommendation, role_for
from icc_dispatch.use_cases.ports import Records, Writes
from icc_dispatch.use_cases.recommending import Recommender
from icc_dispatch.use_cases.releases import Releases, record_release
from icc_dispatch.use_cases.reservations import Reservations, new_request_id
from icc_kernel.errors import raise_if_any
from icc_kernel.names import listed_violations, name_of
from icc_kernel.reasons import Reason, ReasonCode
from icc_kernel.requests import request_id_violations

# Whether the caller may act for a unit (its id, its agency): the call's scope decides.
OwnsUnit = Callable[[str, Agency], bool]


def _anyone(unit_id: str, agency: Agency) -> bool:
    return True


MAX_UNITS_PER_REQUEST = 20
MAX_REASON = 500


def _check_assign(unit_ids: list[str], request_id: str, override_reason: str) -> None:
    out = listed_violations(unit_ids, "units", "unit", MAX_UNITS_PER_REQUEST)
    out.extend(request_id_violations(request_id))
    if len(override_reason) > MAX_REASON:
        out.append(Violation("override_reason", f"at most {MAX_REASON} characters"))
    raise_if_any(out)


def _reservation_id(incident_id: str, request_id: str) -> str:
    """The caller's request id made dispatch's own (the same request, the same id)."""
    if not request_id:
        return new_request_id()
    return "dsp-" + hashlib.sha256(f"{incident_id}|{request_id}".encode()).hexdigest()[:40]


@dataclass
class Commands:
    records: Records
    fleet: Fleet
    recommender: Recommender
    reservations: Reservations
    releases: Releases
    clock: Callable[[], datetime]

    async def assign(
        self,
        incident_id: str,
        unit_ids: list[str],
        request_id: str,
        override_reason: str,
        actor: Actor,
    ) -> list[Assignment]:
        """Reserves the units for the incident, all or nothing; the same request again
        answers what the first made."""
        _check_assign(unit_ids, request_id, override_reason)
        rid = _reservation_id(incident_id, request_id)
        async with self.records.read() as reads:
            earlier = await reads.by_request(rid)
            case = await reads.case(incident_id)
            assignments = await reads.assignments_of(incident_id)
        if earlier:
            if sorted(a.unit_id for a in earlier) != sorted(unit_ids):
                raise InvalidInput.one("request_id", "already used for other units")
            if any(a.state is AssignmentState.PROPOSED for a in earlier):
                return await self.reservations.settle(incident_id, rid)
            return earlier
        if case.incident.phase is IncidentPhase.ENDED:
            raise IllegalTransition(f"{case.incident.name} has ended; nothing can be assigned")
        held = {a.unit_id for a in assignments if a.active}
        taken = [u for u in unit_ids if u in held]
        if taken:
            raise InvalidInput.one(
                "units", f"already assigned to this incident: {', '.join(taken)}"
            )
        rec = await self.recommender.for_case(case, assignments, per_role=20)
        picks, overrides = await self._picks(case, rec, assignments, unit_ids, override_reason)
        proposals = self.reservations.proposals(
            incident_id,
            picks,
            rid,
            actor,
            rec.eta_source,
            override_reason=override_reason.strip(),
            overrides=overrides,
        )
        return await self.reservations.reserve(case, proposals)

    async def _picks(
        self,
        case: Case,
        rec: Recommendation,
        assignments: list[Assignment],
        unit_ids: list[str],
        override_reason: str,
    ) -> tuple[list[Candidate], set[str]]:
        """The named units as candidates, and those the recommendation did not offer
        (allowed with a reason: the dispatcher knows something dispatch does not)."""
        by_unit = {c.unit.id: c for c in rec.candidates}
        picks: list[Candidate] = []
        unplanned: list[FleetUnit] = []
        for unit_id in unit_ids:
            if unit_id in by_unit:
                picks.append(by_unit[unit_id])
                continue
            unit = self.fleet.get(unit_id)
            if unit is None:
                raise NotFound(name_of("units", unit_id))
            unplanned.append(unit)
        if not unplanned:
            return picks, set()
        if not override_reason.strip():
            names = ", ".join(name_of("units", u.id) for u in unplanned)
            raise InvalidInput.one(
                "override_reason", f"required: {names} not recommended for this incident; say why"
            )
        etas, _ = await self.recommender.etas(unplanned, case.incident.location, self.clock())
        open_roles = [n.item for n in needs(rec.plan, assignments)]
        for unit in unplanned:
            eta = etas.get(unit.id)
            picks.append(
                Candidate(
                    unit,
                    role_for(unit, open_roles),
                    eta or NO_ETA,
                    0,
                    self.fleet.coverage_left(unit),
                    Fit.DISPATCHER,
                    rec.mutual_aid_eta_s,
                    routed=eta is not None,
                )
            )
        return picks, {u.id for u in unplanned}

    async def acknowledge(
        self, assignment_id: str, actor: Actor, owns: OwnsUnit = _anyone
    ) -> Assignment:
        """`owns(unit_id, agency)`: whether the caller may act for the assignment's unit."""

        async def work(writes: Writes) -> Assignment:
            a = await writes.load_assignment(assignment_id)
            if not owns(a.unit_id, a.agency):
                raise Forbidden(f"{name_of('units', a.unit_id)} is not the caller's unit")
            now = self.clock()
            acked = lifecycle.acknowledge(a, now)
            if acked is not a:
                await writes.save_assignments([acked])
                writes.announce([AssignmentAcknowledged(assignment=acked, actor=actor, time=now)])
            return acked

        return await self.records.write(work)

    async def release(
        self, incident_id: str, unit_ids: list[str], reason: str, actor: Actor
    ) -> list[Assignment]:
        """Releases the named units of the incident (all of them when none is named)."""
        if len(reason) > MAX_REASON:
            raise InvalidInput.one("reason", f"at most {MAX_REASON} characters")

        async def work(writes: Writes) -> list[Assignment]:
            await writes.case(incident_id)  # NotFound for an incident dispatch has not heard of
            active = {a.unit_id: a for a in await writes.assignments_of(incident_id) if a.active}
            unknown = [u for u in unit_ids if u not in active]
            if unknown:
                names = ", ".join(name_of("units", u) for u in unknown)
                raise InvalidInput.one("units", f"not assigned to this incident: {names}")
            chosen = [active[u] for u in unit_ids] if unit_ids else list(active.values())
            if any(a.state is AssignmentState.PROPOSED for a in chosen):
                raise IllegalTransition(
                    "a unit is still being reserved for this incident; try again in a moment"
                )
            why = Reason.of(ReasonCode.RELEASED_BY_DISPATCHER, text=reason.strip())
            return await record_release(writes, chosen, why, actor, self.clock())

        released = await self.records.write(work)
        await self.releases.free_at_resources(released)
        return released
