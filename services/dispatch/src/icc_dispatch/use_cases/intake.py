"""News from the bus: incidents dispatch must copy (and maybe dispatch at once), and unit
statuses that acknowledge or end an assignment without a dispatcher.

Most news changes nothing for dispatch; that is decided on a read, with no write and no
inbox entry. Only an effect is written, with its inbox entry in the same transaction.
"""

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from opentelemetry import trace

from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.case import is_news
from icc_dispatch.domain.errors import ConcurrentChange
from icc_dispatch.domain.events import AssignmentAcknowledged, UnitsReleased
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import (
    SYSTEM,
    Assignment,
    AssignmentState,
    IncidentPhase,
    IncidentView,
    UnitStatus,
)
from icc_dispatch.use_cases.ports import Records, Writes
from icc_dispatch.use_cases.recommending import Recommender
from icc_dispatch.use_cases.releases import Releases, record_release
from icc_dispatch.use_cases.reservations import Reservations, new_request_id
from icc_dispatch.use_cases.settings import Settings
from icc_dispatch.use_cases.underway import Underway
from icc_kernel.reasons import Reason, ReasonCode
from icc_telemetry import INCIDENT_ID, inject

_tracer = trace.get_tracer("icc_dispatch")

# The durable consumers' names: also the inbox's, which remembers the events handled.
INCIDENT_CONSUMER = "dispatch-incidents"
UNIT_CONSUMER = "dispatch-units"

# What a new incident's intake with its proposal wrote.
_Intake = Literal["proposed", "queued", "handled before"]


@dataclass
class Intake:
    records: Records
    fleet: Fleet
    underway: Underway
    recommender: Recommender
    reservations: Reservations
    releases: Releases
    settings: Settings
    clock: Callable[[], datetime]

    async def on_incident(self, event_id: str, view: IncidentView) -> None:
        async with self.records.read() as reads:
            case = await reads.case_or_none(view.id)
            # Nothing else waits to be chosen for (checked only for a new incident).
            quiet = case is None and not await reads.any_attention()
        if not is_news(case.incident if case else None, view):
            return  # decided on a read: no write, no inbox entry needed
        headers: dict[str, str] = {}
        inject(headers)
        carrier = json.dumps(headers)
        if quiet and view.auto and view.phase is IncidentPhase.OPEN and not self.underway.freed:
            # Dispatch is quiet: the new incident's units are chosen at once and proposed
            # in the same write as its intake, one commit and one loop round sooner than
            # through the queue. Under a backlog the loop chooses, most urgent first.
            with _tracer.start_as_current_span(
                "dispatch incident", attributes={INCIDENT_ID: view.id}
            ):
                if await self._intake_and_propose(event_id, view, carrier):
                    return

        async def work(writes: Writes) -> list[Assignment]:
            if not await writes.claim(INCIDENT_CONSUMER, event_id):
                return []
            newer = await writes.upsert_case(
                view, attention=view.phase is IncidentPhase.OPEN, trace_context=carrier
            )
            if not newer or view.phase is IncidentPhase.OPEN:
                return []
            active = [a for a in await writes.assignments_of(view.id) if a.active]
            ended = Reason(ReasonCode.INCIDENT_ENDED)
            return await record_release(writes, active, ended, SYSTEM, self.clock())

        released = await self.records.write(work)
        await self.releases.free_at_resources(released)
        self.underway.wake.set()

    async def _intake_and_propose(self, event_id: str, view: IncidentView, carrier: str) -> bool:
        """Records a new incident with the proposal of its units and starts their
        reservation; False when there is nothing to propose (the queue decides)."""
        rec = await self.recommender.recommend(
            view, frozenset(), [], self.settings.candidates_per_role
        )
        picks = list(rec.selected)
        # A unit freed, or taken by a choice made while routing answered: the queue decides.
        if not picks or self.underway.freed or any(c.unit.id in self.fleet.held for c in picks):
            return False
        complete = rec.complete
        proposals = self.reservations.proposals(
            view.id, picks, new_request_id(), SYSTEM, rec.eta_source
        )
        proposals = await self.reservations.with_destinations(view, proposals, first=True)
        unit_ids = [a.unit_id for a in proposals]

        async def work(writes: Writes) -> _Intake:
            if not await writes.claim(INCIDENT_CONSUMER, event_id):
                return "handled before"  # (a redelivery): nothing written, nothing to reserve
            free = not await writes.held_units(unit_ids)
            added = await writes.insert_case(
                view, attention=not (free and complete), trace_context=carrier
            )
            if not added:
                # Another replica wrote it meanwhile: the ordinary intake sorts it out.
                raise ConcurrentChange(f"{view.name} was taken in meanwhile")
            if not free:
                return "queued"
            await writes.insert_assignments(proposals)
            return "proposed"

        holding = contextlib.ExitStack()
        holding.enter_context(self.underway.holding(proposals))
        try:
            try:
                outcome = await self.records.write(work)
            except ConcurrentChange:
                return False
            if outcome == "queued":
                self.underway.wake.set()
            if outcome != "proposed":
                return True
            self.underway.start_reserving(
                view.id,
                unit_ids,
                lambda: self.reservations.settle(view.id, proposals[0].request_id, proposals, view),
                holding.pop_all(),
            )
            return True
        finally:
            holding.close()

    async def on_unit_status(
        self, event_id: str, unit_id: str, status: UnitStatus, incident_id: str | None, version: int
    ) -> None:
        """A unit's status from the resources service: implicit acknowledgement, or the
        unit leaving its incident (cleared, out of service) without dispatch."""
        now = self.clock()
        async with self.records.read() as reads:
            a = await reads.active_for_unit(unit_id)
        # Most news changes nothing here (the reservation's own DISPATCHED, units
        # of no incident): decided on a read, so it costs no write.
        if a is None or lifecycle.on_unit_news(a, status, incident_id, version, now) is None:
            return

        async def work(writes: Writes) -> bool:
            if not await writes.claim(UNIT_CONSUMER, event_id):
                return False
            current = await writes.active_for_unit(unit_id)
            changed = (
                lifecycle.on_unit_news(current, status, incident_id, version, now)
                if current is not None
                else None
            )
            if changed is None:
                return False
            await writes.save_assignments([changed])
            if changed.state is AssignmentState.ACKNOWLEDGED:
                writes.announce(
                    [AssignmentAcknowledged(assignment=changed, actor=SYSTEM, time=now)]
                )
                return False
            writes.announce([UnitsReleased.of([changed], SYSTEM, now)])
            if changed.vacated:
                await writes.want_attention(changed.incident_id)
            return True

        if await self.records.write(work):
            self.underway.wake.set()
