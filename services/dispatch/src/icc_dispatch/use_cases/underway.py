"""What this process has in flight beside its records, shared by the use cases: news for
the loop, units freed since it last looked, reservations under way and the units they
hold, and incidents to leave alone for a moment."""

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

from opentelemetry import trace

from icc_dispatch.domain.errors import ConcurrentChange, UnitsUnavailable
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import Assignment, UnitKind
from icc_telemetry import INCIDENT_ID, UNIT_ID

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("icc_dispatch")


@dataclass
class Underway:
    fleet: Fleet
    # Set by news for the loop (a new incident, a unit freed, a reservation answered).
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Units freed since the loop last looked, by kind.
    freed_kinds: Counter[UnitKind] = field(default_factory=Counter)
    # Incidents the loop leaves alone until then (time.monotonic()).
    retry_after: dict[str, float] = field(default_factory=dict)
    # Reservations under way, by incident id.
    reserving: dict[str, "asyncio.Task[None]"] = field(default_factory=dict)
    # Request ids of proposals being made and reserved here: `reconcile` leaves them alone.
    in_flight: set[str] = field(default_factory=set)

    def units_freed(self, kind: UnitKind) -> None:
        self.freed_kinds[kind] += 1
        self.wake.set()

    @property
    def freed(self) -> bool:
        """A unit came free that the loop has not yet offered to waiting incidents."""
        return bool(self.freed_kinds)

    def retry(self, incident_id: str, after_s: float) -> None:
        self.retry_after[incident_id] = time.monotonic() + after_s

    @contextlib.contextmanager
    def holding(self, proposals: Sequence[Assignment]) -> Iterator[None]:
        """While a proposal is being made and reserved: its units are not chosen again,
        and `reconcile` leaves it alone."""
        unit_ids = [a.unit_id for a in proposals]
        rid = proposals[0].request_id
        self.in_flight.add(rid)
        self.fleet.held.update(unit_ids)
        try:
            yield
        finally:
            self.in_flight.discard(rid)
            self.fleet.held.difference_update(unit_ids)

    def start_reserving(
        self,
        incident_id: str,
        unit_ids: list[str],
        run: Callable[[], Awaitable[object]],
        holding: contextlib.ExitStack | None = None,
    ) -> None:
        """Runs a reservation beside the loop; `holding` is let go of when it ends."""

        async def reserve() -> None:
            try:
                # Proposal commit, ReserveUnits, confirmation commit: one span, so a slow
                # reservation shows as such in the incident's trace.
                with _tracer.start_as_current_span(
                    "reserve units", attributes={INCIDENT_ID: incident_id, UNIT_ID: unit_ids}
                ):
                    await run()
            except (UnitsUnavailable, ConcurrentChange):
                pass  # taken up again: the view now knows better
            except Exception:
                log.exception("a reservation failed; the incident is taken up again shortly")
                self.retry(incident_id, 2.0)
            finally:
                if holding is not None:
                    holding.close()
                self.wake.set()

        self.reserving[incident_id] = asyncio.create_task(reserve())
