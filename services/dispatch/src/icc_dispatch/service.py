"""The dispatch service: a thin facade over its use cases (`icc_dispatch.use_cases`), wired
to dispatch's records in SQL and to the resources service through the callables it is
given (the API, the bus consumers, the fleet feed and tests call it here).

Every change to the world outside (a reservation or a release at the resources service)
is recorded first, then made, then confirmed: a proposal before a reservation, a pending
release before a release. `reconcile` finishes whatever a crash interrupted, with the same
request ids, so nothing happens twice.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from icc_dispatch.domain.eta import EtaProvider
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import (
    Actor,
    Agency,
    Assignment,
    IncidentView,
    UnitKind,
    UnitStatus,
)
from icc_dispatch.domain.plans import PlanBook
from icc_dispatch.domain.ranking import Recommendation
from icc_dispatch.records import SqlRecords
from icc_dispatch.use_cases.commands import Commands, OwnsUnit
from icc_dispatch.use_cases.escalation import escalate_overdue
from icc_dispatch.use_cases.intake import Intake
from icc_dispatch.use_cases.ports import ListHospitals, RefreshUnits, ReleaseUnits, ReserveUnits
from icc_dispatch.use_cases.queries import Queries, Ranked, Status
from icc_dispatch.use_cases.queue import PriorityQueue
from icc_dispatch.use_cases.recommending import Recommender
from icc_dispatch.use_cases.recovery import reconcile
from icc_dispatch.use_cases.releases import Releases
from icc_dispatch.use_cases.reservations import Reservations
from icc_dispatch.use_cases.settings import Settings
from icc_dispatch.use_cases.underway import Underway
from icc_kernel.clock import utc_now
from icc_storage import Database, WriteBatcher

__all__ = ["DispatchService", "Ranked", "Settings", "Status"]


@dataclass
class DispatchService:
    db: Database
    batcher: WriteBatcher
    plans: PlanBook
    fleet: Fleet
    eta: EtaProvider
    reserve_units: ReserveUnits
    release_units: ReleaseUnits
    refresh_units: RefreshUnits
    list_hospitals: ListHospitals
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        self._records = records = SqlRecords(self.db, self.batcher)
        settings, clock, fleet = self.settings, self.clock, self.fleet
        self.underway = underway = Underway(fleet)
        recommender = Recommender(self.plans, fleet, self.eta, settings, clock)
        self._reservations = reservations = Reservations(
            records,
            fleet,
            underway,
            self.reserve_units,
            self.refresh_units,
            self.list_hospitals,
            settings,
            clock,
        )
        self._releases = releases = Releases(records, self.release_units)
        self._intake = Intake(
            records, fleet, underway, recommender, reservations, releases, settings, clock
        )
        self._commands = Commands(records, fleet, recommender, reservations, releases, clock)
        self._queries = Queries(records, self.plans, fleet, recommender, clock)
        self._queue = PriorityQueue(
            records, fleet, underway, recommender, reservations, settings, clock, self._upkeep
        )

    @property
    def wake(self) -> asyncio.Event:
        """Set by news for the dispatch loop."""
        return self.underway.wake

    # Intake (bus consumers, the fleet feed)

    async def on_incident(self, event_id: str, view: IncidentView) -> None:
        await self._intake.on_incident(event_id, view)

    async def on_unit_status(
        self, event_id: str, unit_id: str, status: UnitStatus, incident_id: str | None, version: int
    ) -> None:
        await self._intake.on_unit_status(event_id, unit_id, status, incident_id, version)

    def units_freed(self, kind: UnitKind) -> None:
        """Called by the fleet feed when a unit becomes available."""
        self.underway.units_freed(kind)

    # Reads

    async def status(self, incident_id: str) -> Status:
        return await self._queries.status(incident_id)

    async def recommend(self, incident_id: str, per_role: int) -> Recommendation:
        return await self._queries.recommend(incident_id, per_role)

    async def rank_available(
        self, incident_id: str, kinds: list[UnitKind], agencies: list[Agency], most: int
    ) -> Ranked:
        return await self._queries.rank_available(incident_id, kinds, agencies, most)

    # Dispatcher actions

    async def assign(
        self,
        incident_id: str,
        unit_ids: list[str],
        request_id: str,
        override_reason: str,
        actor: Actor,
    ) -> list[Assignment]:
        return await self._commands.assign(
            incident_id, unit_ids, request_id, override_reason, actor
        )

    async def acknowledge(
        self, assignment_id: str, actor: Actor, owns: OwnsUnit | None = None
    ) -> Assignment:
        if owns is None:
            return await self._commands.acknowledge(assignment_id, actor)
        return await self._commands.acknowledge(assignment_id, actor, owns)

    async def release(
        self, incident_id: str, unit_ids: list[str], reason: str, actor: Actor
    ) -> list[Assignment]:
        return await self._commands.release(incident_id, unit_ids, reason, actor)

    # The dispatch loop and its timers

    async def run(self, stopping: asyncio.Event, tick_s: float = 0.25) -> None:
        await self._queue.run(stopping, tick_s)

    async def drain(self) -> int:
        return await self._queue.drain()

    async def escalate_overdue(self) -> int:
        return await escalate_overdue(
            self._records, self._releases, self.underway, self.settings.ack_within, self.clock()
        )

    async def reconcile(self) -> None:
        cutoff = self.clock() - self.settings.settle_after
        await reconcile(
            self._records, self._reservations, self._releases, self.underway.in_flight, cutoff
        )

    async def _upkeep(self) -> None:
        await self.escalate_overdue()
        await self.reconcile()
