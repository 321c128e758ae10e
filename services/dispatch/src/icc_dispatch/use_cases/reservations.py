"""Reserving units: propose, reserve at the resources service, confirm.

Every reservation is recorded here first (a proposal), then made, then confirmed: a crash
in between is finished by `recovery` with the same request id, so nothing happens twice.
"""

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.case import Case
from icc_dispatch.domain.errors import ConcurrentChange, UnitsUnavailable
from icc_dispatch.domain.events import UnitsAssigned
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.hospitals import TRANSPORTING, choose_destination
from icc_dispatch.domain.model import (
    Actor,
    Assignment,
    AssignmentState,
    EtaSource,
    IncidentView,
    UnitStatus,
)
from icc_dispatch.domain.ranking import Candidate
from icc_dispatch.use_cases.ports import (
    ListHospitals,
    Records,
    RefreshUnits,
    ReserveUnits,
    Writes,
)
from icc_dispatch.use_cases.settings import Settings
from icc_dispatch.use_cases.underway import Underway

log = logging.getLogger(__name__)


def new_id() -> str:
    return uuid.uuid4().hex


def new_request_id() -> str:
    """The request id of a reservation dispatch decides on itself."""
    return "dsp-" + new_id()


@dataclass
class Reservations:
    records: Records
    fleet: Fleet
    underway: Underway
    reserve_units: ReserveUnits
    refresh_units: RefreshUnits
    list_hospitals: ListHospitals
    settings: Settings
    clock: Callable[[], datetime]

    def proposals(
        self,
        incident_id: str,
        picks: Sequence[Candidate],
        rid: str,
        actor: Actor,
        eta_source: EtaSource,
        *,
        override_reason: str = "",
        overrides: Iterable[str] = (),
    ) -> list[Assignment]:
        """The assignments of a reservation about to be made, one per pick, with the trip
        each was chosen for (`eta_source`: where its time came from)."""
        now = self.clock()
        overridden = set(overrides)
        return [
            Assignment(
                id=new_id(),
                incident_id=incident_id,
                unit_id=c.unit.id,
                call_sign=c.unit.call_sign,
                agency=c.unit.agency,
                kind=c.unit.kind,
                role=c.role,
                state=AssignmentState.PROPOSED,
                eta_s=c.eta.seconds,
                request_id=rid,
                assigned_by=actor,
                create_time=now,
                override_reason=override_reason if c.unit.id in overridden else "",
                distance_m=c.eta.meters,
                eta_source=eta_source if c.routed else None,
            )
            for c in picks
        ]

    async def reserve(
        self,
        case: Case,
        proposals: list[Assignment],
        *,
        complete: bool = False,
    ) -> list[Assignment]:
        """Records the proposal (if nobody acted on the case since it was read), then
        reserves its units. `complete`: these units meet the plan, so the case needs
        nothing more for now."""
        proposals = await self.with_destinations(case.incident, proposals)
        unit_ids = [a.unit_id for a in proposals]

        async def propose(writes: Writes) -> None:
            held = await writes.held_units(unit_ids)
            if held:
                raise UnitsUnavailable({u: "is assigned to another incident" for u in held})
            if not await writes.take(case, settled=complete):
                raise ConcurrentChange(f"{case.incident.name} changed meanwhile; read it again")
            await writes.insert_assignments(proposals)

        with self.underway.holding(proposals):
            try:
                await self.records.write(propose)
            except UnitsUnavailable as lost:
                await self.refresh_units(lost.unit_ids)
                raise
            return await self.settle(case.id, proposals[0].request_id, proposals, case.incident)

    async def with_destinations(
        self, incident: IncidentView, proposals: list[Assignment], *, first: bool = False
    ) -> list[Assignment]:
        """Transporting units' proposals with their destination hospital (see
        `domain.hospitals` for the rule), spread with the incident's earlier ones
        (`first`: it has none). Without the hospital list the units still go: a
        destination is advice to the crew, never a reason to hold an ambulance back."""
        if not any(a.kind in TRANSPORTING for a in proposals):
            return proposals
        try:
            hospitals = await self.list_hospitals()
        except Exception as exc:  # any failure: dispatch goes on without a destination
            log.warning("hospitals unavailable", extra={"error": type(exc).__name__})
            return proposals
        sent: Counter[str] = Counter()
        if not first:
            async with self.records.read() as reads:
                earlier = await reads.assignments_of(incident.id)
            sent.update(
                a.destination_hospital for a in earlier if a.destination_hospital and a.fills_role
            )
        out: list[Assignment] = []
        for a in proposals:
            chosen = None
            if a.kind in TRANSPORTING:
                chosen = choose_destination(incident.location, incident.type_code, hospitals, sent)
            if chosen is None:
                out.append(a)
                continue
            sent[chosen.id] += 1
            out.append(replace(a, destination_hospital=chosen.id))
        return out

    async def settle(
        self,
        incident_id: str,
        rid: str,
        proposal: Sequence[Assignment] | None = None,
        incident: IncidentView | None = None,
    ) -> list[Assignment]:
        """Reserves a proposal's units with its request id (again, after a crash) and
        records the answer: assigned, or dropped when the units are gone. `proposal` and
        `incident`: as the caller just wrote and read them (saves reading them back)."""
        if proposal is None:
            async with self.records.read() as reads:
                proposal = await reads.by_request(rid)
        pending = [a for a in proposal if a.state is AssignmentState.PROPOSED]
        if not pending:
            return list(proposal)
        # Always the same order: a repeated request must be the same request.
        unit_ids = [a.unit_id for a in sorted(pending, key=lambda a: a.id)]
        try:
            versions = await self.reserve_units(incident_id, unit_ids, rid)
        except UnitsUnavailable as lost:
            await self._drop(incident_id, rid)
            await self.refresh_units(lost.unit_ids)
            raise
        self._note_reserved(incident_id, versions)
        return await self._confirm(incident_id, rid, versions, incident)

    async def _drop(self, incident_id: str, rid: str) -> None:
        """The units are gone: the proposal goes, and the incident is looked at again."""

        async def drop(writes: Writes) -> None:
            current = await writes.by_request(rid)
            await writes.delete_assignments(
                a.id for a in current if a.state is AssignmentState.PROPOSED
            )
            await writes.want_attention(incident_id)

        await self.records.write(drop)

    def _note_reserved(self, incident_id: str, versions: dict[str, int]) -> None:
        """The resources service said yes: the view knows before its event arrives."""
        for unit_id, version in versions.items():
            unit = self.fleet.get(unit_id)
            if unit is not None:
                self.fleet.put(
                    replace(
                        unit, status=UnitStatus.DISPATCHED, incident_id=incident_id, version=version
                    )
                )

    async def _confirm(
        self, incident_id: str, rid: str, versions: dict[str, int], incident: IncidentView | None
    ) -> list[Assignment]:
        async def confirm(writes: Writes) -> list[Assignment]:
            now = self.clock()
            known = incident
            if known is None:
                known = (await writes.case(incident_id)).incident
            # Locked: two replicas may settle one reservation (its proposer, and another
            # finishing what looked interrupted); the second confirms nothing new and
            # announces nothing.
            current = await writes.by_request_locked(rid)
            confirmed, changed, fresh = lifecycle.reserved(
                current, versions, now, self.settings.ack_within
            )
            await writes.save_assignments(changed)
            if fresh:
                assigned = UnitsAssigned(
                    incident_id=incident_id,
                    priority=known.priority,
                    assignments=tuple(fresh),
                    cautions=known.cautions,
                    actor=fresh[0].assigned_by,
                    time=now,
                )
                writes.announce([assigned])
            return confirmed

        return await self.records.write(confirm)
