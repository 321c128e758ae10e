"""Use cases of the dispatch service: intake, recommendation, assignment, escalation.

Every change to the world outside (a reservation or a release at the resources
service) is recorded here first, then made, then confirmed: a proposal before a
reservation, a pending release before a release. The loop's `reconcile` finishes
whatever a crash interrupted, with the same request ids, so nothing happens twice.
"""

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from opentelemetry import trace

from icc_dispatch import convert, store
from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.errors import (
    IllegalTransition,
    InvalidInput,
    NotFound,
    UnitsUnavailable,
    Violation,
)
from icc_dispatch.domain.eta import Eta, EtaProvider, TravelModel, Trip
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import (
    SYSTEM,
    Actor,
    Assignment,
    AssignmentState,
    FleetUnit,
    IncidentPhase,
    IncidentView,
    Point,
    Priority,
    UnitKind,
    UnitStatus,
)
from icc_dispatch.domain.plans import Need, PlanBook, ResponsePlan, needs
from icc_dispatch.domain.ranking import STAND_INS, Candidate, Recommendation, rank, shortlist
from icc_storage import Database, WriteBatcher, WriteTx, add_events, claim_event
from icc_telemetry import INCIDENT_ID, UNIT_ID, extract, inject

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("icc_dispatch")

MAX_UNITS_PER_REQUEST = 20
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
INCIDENT_CONSUMER = "dispatch-incidents"
UNIT_CONSUMER = "dispatch-units"


async def _wake(tx: WriteTx, freed: dict[UnitKind, int]) -> int:
    return await store.wake_waiting(tx.conn, freed)


# What a new incident's intake with its proposal wrote.
_Intake = Literal["proposed", "queued", "handled before"]


def waiting_kinds(rec: Recommendation) -> set[UnitKind]:
    """Unit kinds whose coming free could fill what the recommendation lacks."""
    kinds: set[UnitKind] = set()
    for shortfall in rec.shortfalls:
        item = rec.plan.item(shortfall.role)
        if item is not None:
            kinds.update(item.kinds)
        kinds.update(STAND_INS.get(shortfall.agency, ()))
    return kinds


def _release_failed(exc: Exception) -> None:
    log.warning(
        "release at the resources service failed; will retry",
        extra={"error": type(exc).__name__},
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Settings:
    auto_priorities: frozenset[Priority] = frozenset({Priority.P1, Priority.P2})
    ack_within: timedelta = timedelta(seconds=60)
    candidates_per_role: int = 5
    mutual_aid_eta_s: int = 15 * 60
    # Reservations under way at the same time.
    concurrency: int = 8
    # A proposal older than this with no answer is settled by `reconcile`.
    settle_after: timedelta = timedelta(seconds=3)


class Contended(Exception):
    """Someone acted on the incident since it was read: read it again."""


@dataclass(frozen=True)
class Status:
    incident: IncidentView
    plan: ResponsePlan
    assignments: list[Assignment]
    needs: list[Need]


@dataclass
class DispatchService:
    db: Database
    batcher: WriteBatcher
    plans: PlanBook
    fleet: Fleet
    eta: EtaProvider
    reserve_units: Callable[[str, list[str], str], Awaitable[dict[str, int]]]
    # True: released (or free already); False: refused, not this incident's unit there.
    release_units: Callable[[str, list[str], str, str], Awaitable[bool]]
    refresh_units: Callable[[list[str]], Awaitable[None]]
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], datetime] = utc_now
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Kinds of units freed since waiting incidents were last woken.
    # Units freed since the loop last looked, by kind.
    _freed_kinds: Counter[UnitKind] = field(default_factory=Counter)
    _last_sweep: float = 0.0
    _in_flight: set[str] = field(default_factory=set)
    _retry_after: dict[str, float] = field(default_factory=dict)
    _fallback: TravelModel = field(default_factory=TravelModel)
    # Reservations under way, by incident id.
    _reserving: dict[str, "asyncio.Task[None]"] = field(default_factory=dict)

    # Intake (bus consumers)

    async def on_incident(self, event_id: str, view: IncidentView) -> None:
        async with self.db.read(inline=True) as conn:
            row = await store.load_incident_or_none(conn, view.id)
            # Nothing else waits to be chosen for (checked only for a new incident).
            quiet = row is None and not await store.any_attention(conn)
        if not store.news_for_dispatch(row, view):
            return  # decided on a read: no write, no inbox entry needed
        headers: dict[str, str] = {}
        inject(headers)
        carrier = json.dumps(headers)
        if quiet and view.auto and view.phase is IncidentPhase.OPEN and not self._freed:
            # Dispatch is quiet: the new incident's units are chosen at once and proposed
            # in the same write as its intake, one commit and one loop round sooner than
            # through the queue. Under a backlog the loop chooses, most urgent first.
            with _tracer.start_as_current_span(
                "dispatch incident", attributes={INCIDENT_ID: view.id}
            ):
                if await self._intake_and_propose(event_id, view, carrier):
                    return

        async def work(tx: WriteTx) -> list[Assignment]:
            if not await claim_event(tx.conn, store.inbox, INCIDENT_CONSUMER, event_id):
                return []
            newer = await store.upsert_incident(
                tx.conn, view, attention=view.phase is IncidentPhase.OPEN, trace_context=carrier
            )
            if not newer or view.phase is IncidentPhase.OPEN:
                return []
            active = [a for a in await store.assignments_of(tx.conn, view.id) if a.active]
            return await self._release(tx, view.id, active, "incident ended", SYSTEM)

        released = await self.batcher.submit(work)
        await self._free_at_resources(released)
        self.wake.set()

    async def _intake_and_propose(self, event_id: str, view: IncidentView, carrier: str) -> bool:
        """Records a new incident with the proposal of its units and starts their
        reservation; False when there is nothing to propose (the queue decides)."""
        rec = await self._recommend_for(view, frozenset(), [], self.settings.candidates_per_role)
        picks = list(rec.selected)
        # A unit freed, or taken by a choice made while routing answered: the queue decides.
        if not picks or self._freed or any(c.unit.id in self.fleet.held for c in picks):
            return False
        complete = not rec.shortfalls and not rec.mutual_aid
        proposals = self._proposals(view.id, picks, "dsp-" + new_id(), SYSTEM)
        unit_ids = [a.unit_id for a in proposals]

        async def work(tx: WriteTx) -> _Intake:
            if not await claim_event(tx.conn, store.inbox, INCIDENT_CONSUMER, event_id):
                return "handled before"  # (a redelivery): nothing written, nothing to reserve
            free = not await store.held_units(tx.conn, unit_ids)
            added = await store.insert_incident(
                tx.conn, view, attention=not (free and complete), trace_context=carrier
            )
            if not added:
                # Another replica wrote it meanwhile: the ordinary intake sorts it out.
                raise Contended()
            if not free:
                return "queued"
            await store.insert_assignments(tx.conn, proposals)
            return "proposed"

        holding = contextlib.ExitStack()
        holding.enter_context(self._holding(proposals))
        try:
            try:
                outcome = await self.batcher.submit(work)
            except Contended:
                return False
            if outcome == "handled before":
                return True
            if outcome == "queued":
                self.wake.set()
                return True
            self._start_reserving(
                view.id,
                unit_ids,
                functools.partial(
                    self._settle, view.id, proposals[0].request_id, proposals, view.priority
                ),
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
        async with self.db.read(inline=True) as conn:
            a = await store.active_for_unit(conn, unit_id)
        # Most news changes nothing here (the reservation's own DISPATCHED, units
        # of no incident): decided on a read, so it costs no write.
        if a is None or lifecycle.on_unit_news(a, status, incident_id, version, now) is None:
            return

        async def work(tx: WriteTx) -> bool:
            if not await claim_event(tx.conn, store.inbox, UNIT_CONSUMER, event_id):
                return False
            current = await store.active_for_unit(tx.conn, unit_id)
            changed = (
                lifecycle.on_unit_news(current, status, incident_id, version, now)
                if current is not None
                else None
            )
            if current is None or changed is None:
                return False
            await store.save_assignment(tx.conn, changed)
            if changed.state is AssignmentState.ACKNOWLEDGED:
                add_events(tx, store.outbox, [convert.acknowledged_event(changed, SYSTEM, now)])
                return False
            add_events(
                tx,
                store.outbox,
                [
                    convert.released_event(
                        changed.incident_id, [changed], changed.release_reason, SYSTEM, now
                    )
                ],
            )
            if changed.vacated:
                await store.want_attention(tx.conn, changed.incident_id)
            return True

        if await self.batcher.submit(work):
            self.wake.set()

    def units_freed(self, kind: UnitKind) -> None:
        """Called by the fleet feed when a unit becomes available."""
        self._freed_kinds[kind] += 1
        self.wake.set()

    @property
    def _freed(self) -> bool:
        return bool(self._freed_kinds)

    # Reads

    async def status(self, incident_id: str) -> Status:
        async with self.db.read(inline=True) as conn:
            row = await store.load_incident_row(conn, incident_id)
            assignments = await store.assignments_of(conn, incident_id)
        incident = store.incident_from(row)
        plan = self.plans.plan(incident.type_code, incident.priority, self.clock())
        return Status(incident, plan, assignments, needs(plan, assignments))

    async def recommend(self, incident_id: str, per_role: int) -> Recommendation:
        async with self.db.read(inline=True) as conn:
            row = await store.load_incident_row(conn, incident_id)
            assignments = await store.assignments_of(conn, incident_id)
        return await self._recommend(row, assignments, per_role)

    async def _recommend(
        self, row: Any, assignments: Sequence[Assignment], per_role: int
    ) -> Recommendation:
        return await self._recommend_for(
            store.incident_from(row), store.excluded_of(row), assignments, per_role
        )

    async def _recommend_for(
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
        etas, source = await self._etas(list(units.values()), incident.location, now)
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

    async def _etas(
        self, units: list[FleetUnit], destination: Point, now: datetime
    ) -> tuple[dict[str, Eta | None], str]:
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
            found = await self._fallback.etas(trips, destination, now)
            source = f"{self._fallback.source} ({self.eta.source} unavailable)"
        return {u.id: e for u, e in zip(units, found, strict=True)}, source

    # Dispatcher actions

    async def assign(
        self,
        incident_id: str,
        unit_ids: list[str],
        request_id: str,
        override_reason: str,
        actor: Actor,
    ) -> list[Assignment]:
        out: list[Violation] = []
        if not unit_ids:
            out.append(Violation("units", "name at least one unit"))
        if len(unit_ids) > MAX_UNITS_PER_REQUEST:
            out.append(Violation("units", f"at most {MAX_UNITS_PER_REQUEST} units per request"))
        if len(set(unit_ids)) != len(unit_ids):
            out.append(Violation("units", "a unit is named twice"))
        if request_id and not _REQUEST_ID.match(request_id):
            out.append(Violation("request_id", "1-64 letters, digits and . _ : -"))
        if len(override_reason) > 500:
            out.append(Violation("override_reason", "at most 500 characters"))
        if out:
            raise InvalidInput(out)
        rid = (
            "dsp-" + hashlib.sha256(f"{incident_id}|{request_id}".encode()).hexdigest()[:40]
            if request_id
            else "dsp-" + new_id()
        )
        async with self.db.read(inline=True) as conn:
            earlier = await store.by_request(conn, rid)
            row = await store.load_incident_row(conn, incident_id)
            assignments = await store.assignments_of(conn, incident_id)
        if earlier:
            if sorted(a.unit_id for a in earlier) != sorted(unit_ids):
                raise InvalidInput([Violation("request_id", "already used for other units")])
            if any(a.state is AssignmentState.PROPOSED for a in earlier):
                return await self._settle(incident_id, rid)
            return earlier
        if store.incident_from(row).phase is IncidentPhase.ENDED:
            raise IllegalTransition(f"incidents/{incident_id} has ended; nothing can be assigned")
        held = {a.unit_id for a in assignments if a.active}
        taken = [u for u in unit_ids if u in held]
        if taken:
            raise InvalidInput(
                [Violation("units", f"already assigned to this incident: {', '.join(taken)}")]
            )
        rec = await self._recommend(row, assignments, per_role=20)
        by_unit = {c.unit.id: c for c in rec.candidates}
        picks: list[Candidate] = []
        unplanned: list[FleetUnit] = []
        for unit_id in unit_ids:
            if unit_id in by_unit:
                picks.append(by_unit[unit_id])
                continue
            unit = self.fleet.get(unit_id)
            if unit is None:
                raise NotFound(f"units/{unit_id}")
            unplanned.append(unit)
        if unplanned and not override_reason.strip():
            names = ", ".join(f"units/{u.id}" for u in unplanned)
            raise InvalidInput(
                [
                    Violation(
                        "override_reason",
                        f"required: {names} not recommended for this incident; say why",
                    )
                ]
            )
        if unplanned:
            incident = store.incident_from(row)
            etas, _ = await self._etas(unplanned, incident.location, self.clock())
            open_roles = [n.item for n in needs(rec.plan, assignments)]
            for unit in unplanned:
                role = next((i.role for i in open_roles if unit.kind in i.kinds), "additional")
                eta = etas.get(unit.id) or Eta(0, 0)
                picks.append(
                    Candidate(
                        unit,
                        role,
                        eta,
                        0,
                        ("chosen by the dispatcher",),
                        self.fleet.coverage_left(unit),
                    )
                )
        overrides = {u.id for u in unplanned}
        return await self._reserve(
            row, picks, rid, actor, override_reason=override_reason.strip(), overrides=overrides
        )

    async def acknowledge(self, assignment_id: str, actor: Actor) -> Assignment:
        async def work(tx: WriteTx) -> Assignment:
            a = await store.load_assignment(tx.conn, assignment_id)
            now = self.clock()
            acked = lifecycle.acknowledge(a, now)
            if acked is not a:
                await store.save_assignment(tx.conn, acked)
                add_events(tx, store.outbox, [convert.acknowledged_event(acked, actor, now)])
            return acked

        return await self.batcher.submit(work)

    async def release(
        self, incident_id: str, unit_ids: list[str], reason: str, actor: Actor
    ) -> list[Assignment]:
        if len(reason) > 500:
            raise InvalidInput([Violation("reason", "at most 500 characters")])

        async def work(tx: WriteTx) -> list[Assignment]:
            await store.load_incident_row(tx.conn, incident_id)
            active = {
                a.unit_id: a for a in await store.assignments_of(tx.conn, incident_id) if a.active
            }
            unknown = [u for u in unit_ids if u not in active]
            if unknown:
                raise InvalidInput(
                    [
                        Violation(
                            "units",
                            "not assigned to this incident: "
                            + ", ".join(f"units/{u}" for u in unknown),
                        )
                    ]
                )
            chosen = [active[u] for u in unit_ids] if unit_ids else list(active.values())
            if any(a.state is AssignmentState.PROPOSED for a in chosen):
                raise IllegalTransition(
                    "a unit is still being reserved for this incident; try again in a moment"
                )
            return await self._release(
                tx, incident_id, chosen, reason.strip() or "released by dispatcher", actor
            )

        released = await self.batcher.submit(work)
        await self._free_at_resources(released)
        return released

    # The dispatch loop

    async def run(self, stopping: asyncio.Event, tick_s: float = 0.25) -> None:
        last_upkeep = 0.0
        while not stopping.is_set():
            # Not `wait_for`, which on Python 3.11 can drop a stop's cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick_s):
                    await self.wake.wait()
            self.wake.clear()
            try:
                # Timers and interrupted work a few times a second: off the path
                # of a new incident, which only needs `drain`.
                if time.monotonic() - last_upkeep >= tick_s:
                    last_upkeep = time.monotonic()
                    await self.escalate_overdue()
                    await self.reconcile()
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch loop round failed; going on")
                await asyncio.sleep(0.5)

    async def drain(self) -> int:
        """Takes incidents up one at a time, the most urgent first, and chooses their
        units; the reservations of what was chosen then run side by side (their
        writes share commits, and one's round trip does not hold up the next).

        Choosing stays in one loop, in order: units chosen are held until their
        reservation is answered, and units freed meanwhile put the incidents that
        wait for them back in the queue before anything else is chosen.
        """
        done = 0
        reserving = self._reserving
        while True:
            sweep = time.monotonic() - self._last_sweep > 5
            if self._freed_kinds or sweep:
                # As many waiting incidents as units came free, per kind; every few
                # seconds as many as are free now (a freed unit whose news was missed).
                if sweep:
                    self._last_sweep = time.monotonic()
                    # (A few more than are free: the most urgent may not take a unit,
                    # e.g. one escalated away from it, and must not block the next.)
                    free = {k: self.fleet.available_count(k) for k in UnitKind}
                    freed = {k: n + 5 for k, n in free.items() if n}
                else:
                    freed = dict(self._freed_kinds)
                self._freed_kinds.clear()
                async with self.db.read(inline=True) as conn:
                    # Most units come free with nobody waiting: then no write.
                    waiting = await store.any_waiting(conn, [k for k, n in freed.items() if n > 0])
                if waiting:
                    await self.batcher.submit(functools.partial(_wake, freed=freed))
            now = time.monotonic()
            self._retry_after = {k: v for k, v in self._retry_after.items() if v > now}
            for incident_id, task in list(reserving.items()):
                if task.done():
                    del reserving[incident_id]
            rows: list[Any] = []
            if len(reserving) < self.settings.concurrency:
                async with self.db.read(inline=True) as conn:
                    rows = await store.most_urgent(conn, {*self._retry_after, *reserving}, limit=1)
            if not rows:
                if not reserving:
                    return done
                # Until a reservation is answered or news arrives (a new incident).
                news = asyncio.ensure_future(self.wake.wait())
                await asyncio.wait([*reserving.values(), news], return_when=asyncio.FIRST_COMPLETED)
                news.cancel()
                self.wake.clear()
                continue
            incident_id = rows[0].id
            try:
                await self._take_up(incident_id)
            except Exception:
                log.exception("dispatching an incident failed; retrying it shortly")
                self._retry_after[incident_id] = time.monotonic() + 5.0
            done += 1

    async def _take_up(self, incident_id: str) -> None:
        """Chooses units for one incident and starts their reservation, or records that
        it waits (for units, or for a dispatcher)."""
        async with self.db.read(inline=True) as conn:
            row = await store.load_incident_row(conn, incident_id)
            assignments = await store.assignments_of(conn, incident_id)
        # Dispatch work continues the trace of the news that caused it (the incident's
        # creation or change), so one incident's path reads as one trace.
        with _tracer.start_as_current_span(
            "dispatch incident",
            context=extract(json.loads(row.trace_context)),
            attributes={INCIDENT_ID: incident_id},
        ):
            await self._choose(row, assignments)

    async def _choose(self, row: Any, assignments: list[Assignment]) -> None:
        incident_id = row.id
        incident = store.incident_from(row)
        unsettled = {a.request_id for a in assignments if a.state is AssignmentState.PROPOSED}
        if unsettled:
            # Interrupted reservations (a crash) are finished before anything new.
            for rid in unsettled - self._in_flight:
                with contextlib.suppress(UnitsUnavailable):
                    await self._settle(incident_id, rid)
            self._retry_after[incident_id] = time.monotonic() + 0.05
            return
        rec = await self._recommend(row, assignments, self.settings.candidates_per_role)
        if self._freed:
            return  # a unit came free meanwhile: waiting incidents compete for it first
        picks = list(rec.selected) if incident.auto else []
        if any(c.unit.id in self.fleet.held for c in picks):
            return  # taken by a new incident's choice while routing answered: choose again
        if not picks:
            await self._settle_attention(row, rec)
            return
        # Held from now (not only once the task runs), so the next incident does
        # not choose them too; `_reserve` lets go of them when it is answered.
        self.fleet.held.update(c.unit.id for c in picks)
        # When these units complete the plan and nobody needs telling, the incident is
        # done with once they are proposed (it is not taken up again to find nothing to
        # do). A reservation that then fails puts it back in the queue (`_settle`).
        complete = not rec.shortfalls and not rec.mutual_aid
        self._start_reserving(
            incident_id,
            [c.unit.id for c in picks],
            functools.partial(
                self._reserve, row, picks, "dsp-" + new_id(), SYSTEM, complete=complete
            ),
        )

    def _start_reserving(
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
            except (UnitsUnavailable, Contended):
                pass  # taken up again: the view now knows better
            except Exception:
                log.exception("a reservation failed; the incident is taken up again shortly")
                self._retry_after[incident_id] = time.monotonic() + 2.0
            finally:
                if holding is not None:
                    holding.close()
                self.wake.set()

        self._reserving[incident_id] = asyncio.create_task(reserve())

    async def _settle_attention(self, row: Any, rec: Recommendation) -> bool:
        """Done with the incident for now; tells a dispatcher what needs a human."""
        incident = store.incident_from(row)
        now = self.clock()
        tell = (not incident.auto or rec.mutual_aid or bool(rec.shortfalls)) and (
            row.recommended_version != incident.version
        )

        async def work(tx: WriteTx) -> bool:
            if not await store.bump(
                tx.conn,
                incident.id,
                row.rev,
                attention=False,
                waiting=incident.auto and bool(rec.shortfalls),
                waiting_for=store.kinds_text(waiting_kinds(rec)),
                recommended_version=incident.version if tell else row.recommended_version,
            ):
                return False
            if tell:
                add_events(
                    tx,
                    store.outbox,
                    [convert.recommended_event(rec, incident.priority, SYSTEM, now)],
                )
            return True

        return await self.batcher.submit(work)

    # Reservation: propose, reserve, confirm

    def _proposals(
        self,
        incident_id: str,
        picks: Sequence[Candidate],
        rid: str,
        actor: Actor,
        *,
        override_reason: str = "",
        overrides: Iterable[str] = (),
    ) -> list[Assignment]:
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
            )
            for c in picks
        ]

    @contextlib.contextmanager
    def _holding(self, proposals: Sequence[Assignment]) -> Iterator[None]:
        """While a proposal is being made and reserved: its units are not chosen again,
        and `reconcile` leaves it alone."""
        unit_ids = [a.unit_id for a in proposals]
        rid = proposals[0].request_id
        self._in_flight.add(rid)
        self.fleet.held.update(unit_ids)
        try:
            yield
        finally:
            self._in_flight.discard(rid)
            self.fleet.held.difference_update(unit_ids)

    async def _reserve(
        self,
        row: Any,
        picks: Sequence[Candidate],
        rid: str,
        actor: Actor,
        *,
        override_reason: str = "",
        overrides: Iterable[str] = (),
        complete: bool = False,
    ) -> list[Assignment]:
        proposals = self._proposals(
            row.id, picks, rid, actor, override_reason=override_reason, overrides=overrides
        )
        unit_ids = [a.unit_id for a in proposals]

        async def propose(tx: WriteTx) -> None:
            held = await store.held_units(tx.conn, unit_ids)
            if held:
                raise UnitsUnavailable({u: "is assigned to another incident" for u in held})
            settled = {"attention": False, "waiting": False, "waiting_for": ""}
            if not await store.bump(tx.conn, row.id, row.rev, **(settled if complete else {})):
                raise Contended()
            await store.insert_assignments(tx.conn, proposals)

        with self._holding(proposals):
            try:
                await self.batcher.submit(propose)
            except UnitsUnavailable as lost:
                await self.refresh_units(list(lost.reasons))
                raise
            return await self._settle(row.id, rid, proposals, Priority(row.priority))

    async def _settle(
        self,
        incident_id: str,
        rid: str,
        proposal: Sequence[Assignment] | None = None,
        priority: Priority | None = None,
    ) -> list[Assignment]:
        """Reserves a proposal's units with its request id (again, after a crash) and
        records the answer: assigned, or dropped when the units are gone. `proposal` and
        `priority`: as the caller just wrote and read them (saves reading them back)."""
        if proposal is None:
            async with self.db.read(inline=True) as conn:
                proposal = await store.by_request(conn, rid)
        pending = [a for a in proposal if a.state is AssignmentState.PROPOSED]
        if not pending:
            return list(proposal)
        # Always the same order: a repeated request must be the same request.
        unit_ids = [a.unit_id for a in sorted(pending, key=lambda a: a.id)]
        try:
            versions = await self.reserve_units(incident_id, unit_ids, rid)
        except UnitsUnavailable as lost:

            async def drop(tx: WriteTx) -> None:
                current = await store.by_request(tx.conn, rid)
                await store.delete_assignments(
                    tx.conn, [a.id for a in current if a.state is AssignmentState.PROPOSED]
                )
                await store.want_attention(tx.conn, incident_id)

            await self.batcher.submit(drop)
            await self.refresh_units(list(lost.reasons))
            raise

        # The resources service said yes: the view knows before its event arrives.
        for unit_id, version in versions.items():
            unit = self.fleet.get(unit_id)
            if unit is not None:
                self.fleet.put(
                    replace(
                        unit, status=UnitStatus.DISPATCHED, incident_id=incident_id, version=version
                    )
                )

        async def confirm(tx: WriteTx) -> list[Assignment]:
            now = self.clock()
            known = priority
            if known is None:
                known = Priority((await store.load_incident_row(tx.conn, incident_id)).priority)
            current = await store.by_request(tx.conn, rid)
            confirmed, fresh, changed = [], [], []
            for a in current:
                if a.state is AssignmentState.RELEASED and a.assign_time is None:
                    # Released while being reserved (the incident ended): the
                    # resources service now holds the unit, so it is freed there too.
                    a = replace(a, release_pending=True)
                    changed.append(a)
                elif a.state is AssignmentState.PROPOSED:
                    a = lifecycle.with_unit_version(
                        lifecycle.confirm(a, now, self.settings.ack_within),
                        versions.get(a.unit_id, 0),
                    )
                    changed.append(a)
                    fresh.append(a)
                confirmed.append(a)
            await store.save_assignments(tx.conn, changed)
            if fresh:
                add_events(
                    tx,
                    store.outbox,
                    [
                        convert.assigned_event(
                            incident_id,
                            known,
                            fresh,
                            fresh[0].assigned_by == SYSTEM,
                            fresh[0].assigned_by,
                            now,
                        )
                    ],
                )
            return confirmed

        return await self.batcher.submit(confirm)

    # Releases and escalation

    async def _release(
        self, tx: WriteTx, incident_id: str, items: list[Assignment], reason: str, actor: Actor
    ) -> list[Assignment]:
        now = self.clock()
        released = []
        for a in items:
            if not a.active:
                continue
            released.append(lifecycle.release(a, now, reason, tell_resources=True))
        await store.save_assignments(tx.conn, released)
        if released:
            add_events(
                tx,
                store.outbox,
                [convert.released_event(incident_id, released, reason, actor, now)],
            )
        return released

    async def escalate_overdue(self) -> int:
        now = self.clock()
        async with self.db.read(inline=True) as conn:
            due = await store.overdue(conn, now)
        escalated = []
        for a in due:

            async def work(tx: WriteTx, a: Assignment = a) -> Assignment | None:
                current = await store.load_assignment(tx.conn, a.id)
                if not lifecycle.overdue(current, now):
                    return None
                seconds = int(self.settings.ack_within.total_seconds())
                reason = f"not acknowledged within {seconds} s; the next best unit is sent"
                freed = lifecycle.release(current, now, reason, tell_resources=True, vacated=True)
                await store.save_assignment(tx.conn, freed)
                await store.exclude_unit(tx.conn, a.incident_id, a.unit_id)
                add_events(tx, store.outbox, [convert.escalated_event(freed, reason, SYSTEM, now)])
                return freed

            freed = await self.batcher.submit(work)
            if freed is not None:
                escalated.append(freed)
        if escalated:
            log.info("assignments escalated", extra={"count": len(escalated)})
            await self._free_at_resources(escalated)
            self.wake.set()
        return len(escalated)

    async def _free_at_resources(self, items: Iterable[Assignment]) -> None:
        """Releases the units at the resources service, then records in one write which
        releases were made. One incident's units go in one request (one write there);
        requests for different incidents go side by side."""
        groups: dict[tuple[str, str], list[Assignment]] = {}
        for a in items:
            if a.release_pending:
                groups.setdefault((a.incident_id, a.release_reason), []).append(a)
        if not groups:
            return
        answers = await asyncio.gather(
            *(self._release_together(group) for group in groups.values()),
            return_exceptions=True,
        )
        told: list[str] = []
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, Exception):
                raise answer
            if not isinstance(answer, BaseException):
                told.extend(answer)
        if told:

            async def done(tx: WriteTx) -> None:
                await store.release_told(tx.conn, told)

            # Bookkeeping: it rides along with the next commit. Lost in a crash, the
            # release is made again with the same request id, answered from the
            # resources service's request table.
            self.batcher.submit_later(done)

    async def _release_together(self, group: list[Assignment]) -> list[str]:
        """Releases one incident's units; returns the assignments the resources service
        is done with (released, or no longer ours there)."""
        group = sorted(group, key=lambda a: a.id)  # a repeated request is the same request
        first = group[0]
        if len(group) > 1:
            ids = "|".join(a.id for a in group)
            rid = "rel-" + hashlib.sha256(ids.encode()).hexdigest()[:40]
            try:
                if await self.release_units(
                    first.incident_id, [a.unit_id for a in group], rid, first.release_reason
                ):
                    return [a.id for a in group]
            except Exception as exc:
                _release_failed(exc)
                return []
            # Refused as a whole: one of the units is no longer this incident's there
            # (all or nothing). Each of the others is still released, alone.
        answers = await asyncio.gather(
            *(
                self.release_units(a.incident_id, [a.unit_id], f"rel-{a.id}", a.release_reason)
                for a in group
            ),
            return_exceptions=True,
        )
        told = []
        for a, answer in zip(group, answers, strict=True):
            if isinstance(answer, Exception):
                _release_failed(answer)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                told.append(a.id)
        return told

    async def reconcile(self) -> None:
        """Finishes reservations and releases that a crash or an outage interrupted."""
        async with self.db.read(inline=True) as conn:
            proposed, releasing = await store.unfinished(conn)
        cutoff = self.clock() - self.settings.settle_after
        settle = {
            (a.incident_id, a.request_id)
            for a in proposed
            if a.request_id not in self._in_flight and a.create_time <= cutoff
        }
        for incident_id, rid in sorted(settle):
            try:
                await self._settle(incident_id, rid)
            except UnitsUnavailable:
                pass
            except Exception as exc:
                log.warning(
                    "settling a reservation failed; will retry", extra={"error": type(exc).__name__}
                )
        # A young release is its caller's to make (and to mark, a moment later).
        await self._free_at_resources(
            a for a in releasing if a.release_time is not None and a.release_time <= cutoff
        )
