"""Progress reported by dispatch and by units (bus consumers): each event applied to its
incident once (the inbox remembers it), recorded and announced like a change by RPC."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from icc_incidents import store
from icc_incidents.domain import lifecycle
from icc_incidents.domain.lifecycle import Change
from icc_incidents.domain.model import Assignment, Incident
from icc_incidents.metrics import record_progress
from icc_incidents.service import IncidentService
from icc_kernel.actors import Actor
from icc_kernel.reasons import Reason
from icc_kernel.vocabulary import IncidentState
from icc_storage import WriteTx


@dataclass
class Progress:
    # Its database, write batcher, clock and records (`IncidentService.record`).
    service: IncidentService

    async def apply_dispatch(
        self,
        consumer: str,
        event_id: str,
        incident_id: str,
        updates: tuple[Assignment, ...],
        said: tuple[Reason, ...],
        actor: Actor,
    ) -> None:
        await self._progress(
            consumer,
            event_id,
            incident_id,
            actor,
            lambda i, now: lifecycle.apply_assignments(i, updates, now=now, said=said),
        )

    async def apply_unit_status(
        self,
        consumer: str,
        event_id: str,
        incident_id: str,
        to: IncidentState,
        unit: str,
        actor: Actor,
    ) -> None:
        async with self.service.db.read() as conn:
            incident = await store.load(conn, incident_id)
        if lifecycle.unit_progress(incident, to, now=self.service.clock(), unit=unit) is None:
            return  # nothing to do: no write, no inbox entry needed
        await self._progress(
            consumer,
            event_id,
            incident_id,
            actor,
            lambda i, now: lifecycle.unit_progress(i, to, now=now, unit=unit),
        )

    async def _progress(
        self,
        consumer: str,
        event_id: str,
        incident_id: str,
        actor: Actor,
        decide: Callable[[Incident, datetime], Change | None],
    ) -> None:
        """An event of another service applied once (the inbox remembers it)."""

        async def work(tx: WriteTx) -> tuple[Incident, Incident] | None:
            if not await store.claim_event(tx, consumer, event_id):
                return None
            now = self.service.clock()
            current = await store.load(tx.conn, incident_id)
            change = decide(current, now)
            if change is None:
                return None
            await store.save_incident(tx.conn, change.incident)
            # From an event on the bus: no RPC.
            self.service.record(tx, change, actor, now, "")
            return current, change.incident

        # Metrics after the commit: the batcher may run `work` more than once.
        applied = await self.service.batcher.submit(work)
        if applied is not None:
            record_progress(*applied)
