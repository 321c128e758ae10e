"""The priority queue: one loop takes incidents up in order of priority, then age, and
chooses their units; the reservations of what it chose run side by side.

Choosing stays in one loop, in order: units chosen are held until their reservation is
answered, and units freed meanwhile put the incidents that wait for them back in the queue
before anything else is chosen, so a P4 never takes a unit a waiting P1 could have had.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from opentelemetry import trace

from icc_dispatch.domain.case import Case, awaiting_since
from icc_dispatch.domain.errors import UnitsUnavailable
from icc_dispatch.domain.events import UnitsRecommended
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import SYSTEM, Assignment, AssignmentState, UnitKind
from icc_dispatch.domain.ranking import Recommendation
from icc_dispatch.use_cases.ports import Records, Writes
from icc_dispatch.use_cases.recommending import Recommender
from icc_dispatch.use_cases.reservations import Reservations, new_request_id
from icc_dispatch.use_cases.settings import Settings
from icc_dispatch.use_cases.underway import Underway
from icc_telemetry import INCIDENT_ID, extract

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("icc_dispatch")

# Every few seconds, waiting incidents are offered what is free now (a freed unit whose
# news was missed).
SWEEP_EVERY_S = 5.0


@dataclass
class PriorityQueue:
    records: Records
    fleet: Fleet
    underway: Underway
    recommender: Recommender
    reservations: Reservations
    settings: Settings
    clock: Callable[[], datetime]
    # Timers and interrupted work (escalation, recovery), run a few times a second.
    upkeep: Callable[[], Awaitable[None]]
    _last_sweep: float = field(default=0.0, init=False)

    async def run(self, stopping: asyncio.Event, tick_s: float = 0.25) -> None:
        wake = self.underway.wake
        last_upkeep = 0.0
        while not stopping.is_set():
            # Not `wait_for`, which on Python 3.11 can drop a stop's cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick_s):
                    await wake.wait()
            wake.clear()
            try:
                # Timers and interrupted work a few times a second: off the path
                # of a new incident, which only needs `drain`.
                if time.monotonic() - last_upkeep >= tick_s:
                    last_upkeep = time.monotonic()
                    await self.upkeep()
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch loop round failed; going on")
                await asyncio.sleep(0.5)

    async def drain(self) -> int:
        """Takes incidents up one at a time, the most urgent first, and chooses their
        units; the reservations of what was chosen then run side by side (their writes
        share commits, and one's round trip does not hold up the next). Returns once
        nothing is left to choose for and no reservation is under way."""
        done = 0
        underway = self.underway
        reserving = underway.reserving
        while True:
            await self._offer_freed_units()
            now = time.monotonic()
            underway.retry_after = {k: v for k, v in underway.retry_after.items() if v > now}
            for reserved, task in list(reserving.items()):
                if task.done():
                    del reserving[reserved]
            incident_id = None
            if len(reserving) < self.settings.concurrency:
                async with self.records.read() as reads:
                    incident_id = await reads.most_urgent({*underway.retry_after, *reserving})
            if incident_id is None:
                if not reserving:
                    return done
                # Until a reservation is answered or news arrives (a new incident).
                news = asyncio.ensure_future(underway.wake.wait())
                await asyncio.wait([*reserving.values(), news], return_when=asyncio.FIRST_COMPLETED)
                news.cancel()
                underway.wake.clear()
                continue
            try:
                await self._take_up(incident_id)
            except Exception:
                log.exception("dispatching an incident failed; retrying it shortly")
                underway.retry(incident_id, 5.0)
            done += 1

    async def _offer_freed_units(self) -> None:
        """As many waiting incidents as units came free are looked at again, per kind;
        every few seconds as many as are free now."""
        sweep = time.monotonic() - self._last_sweep > SWEEP_EVERY_S
        if not (self.underway.freed or sweep):
            return
        if sweep:
            self._last_sweep = time.monotonic()
            # (A few more than are free: the most urgent may not take a unit, e.g. one
            # escalated away from it, and must not block the next.)
            free = {k: self.fleet.available_count(k) for k in UnitKind}
            freed = {k: n + 5 for k, n in free.items() if n}
        else:
            freed = dict(self.underway.freed_kinds)
        self.underway.freed_kinds.clear()
        async with self.records.read() as reads:
            # Most units come free with nobody waiting: then no write.
            waiting = await reads.any_waiting([k for k, n in freed.items() if n > 0])
        if waiting:

            async def wake(writes: Writes) -> int:
                return await writes.wake_waiting(freed)

            await self.records.write(wake)

    async def _take_up(self, incident_id: str) -> None:
        """Chooses units for one incident and starts their reservation, or records that
        it waits (for units, or for a dispatcher)."""
        async with self.records.read() as reads:
            case = await reads.case(incident_id)
            assignments = await reads.assignments_of(incident_id)
        # Dispatch work continues the trace of the news that caused it (the incident's
        # creation or change), so one incident's path reads as one trace.
        with _tracer.start_as_current_span(
            "dispatch incident",
            context=extract(json.loads(case.trace_context)),
            attributes={INCIDENT_ID: incident_id},
        ):
            await self._choose(case, assignments)

    async def _choose(self, case: Case, assignments: list[Assignment]) -> None:
        unsettled = {a.request_id for a in assignments if a.state is AssignmentState.PROPOSED}
        if unsettled:
            # Interrupted reservations (a crash) are finished before anything new.
            for rid in unsettled - self.underway.in_flight:
                with contextlib.suppress(UnitsUnavailable):
                    await self.reservations.settle(case.id, rid)
            self.underway.retry(case.id, 0.05)
            return
        rec = await self.recommender.for_case(case, assignments, self.settings.candidates_per_role)
        if self.underway.freed:
            return  # a unit came free meanwhile: waiting incidents compete for it first
        picks = list(rec.selected) if case.incident.auto else []
        if any(c.unit.id in self.fleet.held for c in picks):
            return  # taken by a new incident's choice while routing answered: choose again
        if not picks:
            await self._settle_attention(case, rec, assignments)
            return
        # Held from now (not only once the task runs), so the next incident does not
        # choose them too; the reservation lets go of them when it is answered.
        self.fleet.held.update(c.unit.id for c in picks)
        proposals = self.reservations.proposals(
            case.id, picks, new_request_id(), SYSTEM, rec.eta_source
        )
        # When these units complete the plan and nobody needs telling, the case is done
        # with once they are proposed (it is not taken up again to find nothing to do).
        # A reservation that then fails puts it back in the queue.
        self.underway.start_reserving(
            case.id,
            [c.unit.id for c in picks],
            lambda: self.reservations.reserve(case, proposals, complete=rec.complete),
        )

    async def _settle_attention(
        self, case: Case, rec: Recommendation, assignments: list[Assignment]
    ) -> bool:
        """Done with the case for now; tells a dispatcher what needs a human (and, for a
        P3/P4 with something to choose, that it waits for their decision)."""
        settled, tell = case.chosen_for(rec)
        now = self.clock()
        awaiting = not case.incident.auto and bool(rec.selected or rec.shortfalls)
        since = awaiting_since(case.incident, assignments) if awaiting else None

        async def work(writes: Writes) -> bool:
            if not await writes.settle(case, settled):
                return False
            if tell:
                told = UnitsRecommended(
                    recommendation=rec,
                    priority=case.incident.priority,
                    awaiting_since=since,
                    actor=SYSTEM,
                    time=now,
                )
                writes.announce([told])
            return True

        return await self.records.write(work)
