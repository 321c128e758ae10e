"""Dispatch's use cases through the service facade, with fakes for the resources service
and the clock (a real SQLite file holds the records; no bus, no network).

In the style of cosmicpython's `tests/unit/test_handlers.py`: each test drives one use case
and checks what it decided, what it asked the resources service for, and what it announced.
"""

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, select

from icc_dispatch import store
from icc_dispatch.domain.errors import InvalidInput, NotFound, UnitsUnavailable
from icc_dispatch.domain.eta import TravelModel
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import FleetUnit, IncidentPhase, IncidentView, Point
from icc_dispatch.main import load_plans
from icc_dispatch.service import DispatchService, Settings
from icc_kernel.actors import Actor
from icc_kernel.vocabulary import Agency, AssignmentState, Priority, UnitKind, UnitStatus
from icc_storage import EVERY_BATCH_INLINE, Database, WriteBatcher

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 10:00 in the city
SCENE = Point(10.7769, 106.7009)
DISPATCHER = Actor("dispatcher-7", Agency.FIRE, "dispatcher")
S = AssignmentState


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeResources:
    """The resources service as dispatch calls it: all-or-nothing reservations, releases,
    and re-reads of units the fleet view was wrong about. Each change is a new version."""

    fleet: Fleet
    # Units another dispatcher holds, though this view still shows them available.
    taken: set[str] = field(default_factory=set)
    holder: dict[str, str] = field(default_factory=dict)
    by_request: dict[str, dict[str, int]] = field(default_factory=dict)
    reserved: list[list[str]] = field(default_factory=list)
    released: list[tuple[list[str], str]] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    version: int = 100

    async def reserve(self, incident_id: str, unit_ids: list[str], rid: str) -> dict[str, int]:
        if rid in self.by_request:  # the same request again: the same answer
            return self.by_request[rid]
        self.reserved.append(list(unit_ids))
        lost = {u: "is not available" for u in unit_ids if u in self.taken or u in self.holder}
        if lost:
            raise UnitsUnavailable(lost)
        self.holder.update({u: incident_id for u in unit_ids})
        self.version += 1
        self.by_request[rid] = {u: self.version for u in unit_ids}
        return self.by_request[rid]

    async def release(self, incident_id: str, unit_ids: list[str], rid: str, reason: str) -> bool:
        self.released.append((list(unit_ids), reason))
        for u in unit_ids:
            if self.holder.get(u) == incident_id:
                del self.holder[u]
        return True

    async def refresh(self, unit_ids: list[str]) -> None:
        self.refreshed.extend(unit_ids)
        for u in unit_ids:
            unit = self.fleet.get(u)
            if unit is not None and (u in self.taken or u in self.holder):
                self.version += 1
                holder = self.holder.get(u, "elsewhere")
                self.fleet.put(
                    replace(
                        unit,
                        status=UnitStatus.DISPATCHED,
                        incident_id=holder,
                        version=self.version,
                    )
                )


def engine(unit_id: str, km_north: float, version: int = 1) -> FleetUnit:
    """A fire engine at its station, `km_north` of the scene (nearer ones rank first)."""
    return FleetUnit(
        id=unit_id,
        call_sign=unit_id,
        agency=Agency.FIRE,
        kind=UnitKind.ENGINE,
        status=UnitStatus.AVAILABLE,
        home_station=f"S-{unit_id}",
        home=Point(SCENE.lat + km_north / 111.0, SCENE.lon),
        version=version,
    )


def incident(
    n: int,
    priority: Priority = Priority.P1,
    *,
    version: int = 1,
    phase: IncidentPhase = IncidentPhase.OPEN,
    auto: bool | None = None,
) -> IncidentView:
    return IncidentView(
        id=f"inc-{n}",
        type_code="FIRE.RUBBISH",  # one engine
        priority=priority,
        location=SCENE,
        phase=phase,
        create_time=T0 + timedelta(seconds=n),
        version=version,
        auto=priority in (Priority.P1, Priority.P2) if auto is None else auto,
    )


@dataclass
class Counts:
    """Statements run, each as its verb and table (`SELECT incidents`, `BEGIN IMMEDIATE`)."""

    statements: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return self.statements.count("BEGIN IMMEDIATE")


def _signature(sql: str) -> str:
    words = sql.split()
    if words[0] == "BEGIN":
        return " ".join(words[:2])
    for before in ("FROM", "INTO", "UPDATE"):
        if before in words:
            return f"{words[0]} {words[words.index(before) + 1]}"
    return words[0]


@dataclass
class Desk:
    service: DispatchService
    resources: FakeResources
    clock: FakeClock
    fleet: Fleet
    db: Database
    counts: Counts

    async def take_in(self, event_id: str, view: IncidentView) -> None:
        """An incident's news, and what the loop does of it (reservations included)."""
        await self.service.on_incident(event_id, view)
        await self.service.drain()

    async def events(self) -> list[str]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(store.outbox.c.subject).order_by(store.outbox.c.id))
            return [r.subject for r in rows]

    async def units_of(self, incident_id: str) -> dict[str, AssignmentState]:
        status = await self.service.status(incident_id)
        return {a.unit_id: a.state for a in status.assignments if a.active}

    def free(self, unit: FleetUnit) -> None:
        """A unit comes free, as the fleet feed reports it."""
        self.fleet.put(unit)
        self.service.units_freed(unit.kind)


def _count(db: Database, counts: Counts) -> None:
    engines: Iterable[Any] = (db.engine.sync_engine, db._inline, db._inline_writes)
    for sync_engine in engines:
        if sync_engine is None:
            continue

        def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
            counts.statements.append(_signature(sql))

        event.listen(sync_engine, "before_cursor_execute", statement)


@pytest_asyncio.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'dispatch.db'}")
    async with db.write() as conn:
        await conn.run_sync(store.metadata.create_all)
    batcher = WriteBatcher(db, inline_max_jobs=EVERY_BATCH_INLINE)
    batcher.start()
    fleet = Fleet([engine("E1", 1.0), engine("E2", 2.0), engine("E3", 3.0)])
    resources = FakeResources(fleet)
    clock = FakeClock()
    service = DispatchService(
        db=db,
        batcher=batcher,
        plans=load_plans(),
        fleet=fleet,
        eta=TravelModel(),
        reserve_units=resources.reserve,
        release_units=resources.release,
        refresh_units=resources.refresh,
        settings=Settings(ack_within=timedelta(seconds=60)),
        clock=clock,
    )
    counts = Counts()
    _count(db, counts)
    try:
        yield Desk(service, resources, clock, fleet, db, counts)
    finally:
        await batcher.stop()
        await db.dispose()


class TestIntake:
    async def test_a_quiet_dispatch_proposes_and_reserves_a_new_p1_at_once(
        self, desk: Desk
    ) -> None:
        await desk.service.on_incident("evt-1", incident(1))
        await desk.service.drain()  # waits for the reservation under way
        assert desk.resources.reserved == [["E1"]]
        assert await desk.units_of("inc-1") == {"E1": S.ASSIGNED}
        assert await desk.events() == ["icc.dispatch.assigned"]

    async def test_the_quiet_path_costs_two_commits(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        # Intake with its proposal, then the confirmation (the path the bench's dispatch
        # table counts commits on); then the loop's two reads of the queue.
        assert desk.counts.statements == [
            *("BEGIN", "SELECT incidents", "SELECT incidents"),
            *("BEGIN IMMEDIATE", "INSERT inbox", "SELECT assignments"),
            *("INSERT incidents", "INSERT assignments"),
            *("BEGIN", "SELECT incidents"),
            *("BEGIN", "SELECT incidents"),
            *("BEGIN IMMEDIATE", "SELECT assignments", "UPDATE assignments", "INSERT outbox"),
            *("BEGIN", "SELECT incidents"),
        ]
        assert desk.counts.writes == 2

    async def test_the_same_event_twice_is_taken_in_once(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        await desk.take_in("evt-1", incident(1))
        assert desk.resources.reserved == [["E1"]]
        assert await desk.events() == ["icc.dispatch.assigned"]

    async def test_news_that_changes_nothing_dispatch_plans_by_writes_nothing(
        self, desk: Desk
    ) -> None:
        await desk.take_in("evt-1", incident(1))
        writes = desk.counts.writes
        # The incident recording its assignment: a newer version, the same plan.
        await desk.service.on_incident("evt-2", incident(1, version=2))
        assert desk.counts.writes == writes

    async def test_a_p3_gets_a_recommendation_and_waits_for_a_dispatcher(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1, Priority.P3))
        assert desk.resources.reserved == []
        assert await desk.units_of("inc-1") == {}
        assert await desk.events() == ["icc.dispatch.recommended"]

    async def test_an_ended_incident_frees_its_units(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        await desk.service.on_incident("evt-2", incident(1, version=3, phase=IncidentPhase.ENDED))
        assert desk.resources.released == [(["E1"], "incident ended")]
        assert await desk.units_of("inc-1") == {}
        assert await desk.events() == ["icc.dispatch.assigned", "icc.dispatch.released"]

    async def test_a_unit_on_its_way_acknowledges_and_one_gone_is_replaced(
        self, desk: Desk
    ) -> None:
        await desk.take_in("evt-1", incident(1))
        await desk.service.on_unit_status("u-1", "E1", UnitStatus.EN_ROUTE, "inc-1", 200)
        assert await desk.units_of("inc-1") == {"E1": S.ACKNOWLEDGED}
        # Out of service on the way: the role is open again and another unit fills it.
        await desk.service.on_unit_status("u-2", "E1", UnitStatus.OUT_OF_SERVICE, None, 201)
        await desk.service.drain()
        assert await desk.units_of("inc-1") == {"E2": S.ASSIGNED}
        assert await desk.events() == [
            "icc.dispatch.assigned",
            "icc.dispatch.acknowledged",
            "icc.dispatch.released",
            "icc.dispatch.assigned",
        ]


class TestAssign:
    async def _awaiting_dispatcher(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1, Priority.P3))

    async def test_assigns_the_units_a_dispatcher_names(self, desk: Desk) -> None:
        await self._awaiting_dispatcher(desk)
        done = await desk.service.assign("inc-1", ["E2"], "req-1", "", DISPATCHER)
        assert [(a.unit_id, a.state, a.assigned_by) for a in done] == [
            ("E2", S.ASSIGNED, DISPATCHER)
        ]
        # The same request again: the same assignments, nothing reserved twice.
        again = await desk.service.assign("inc-1", ["E2"], "req-1", "", DISPATCHER)
        assert [a.id for a in again] == [a.id for a in done]
        assert desk.resources.reserved == [["E2"]]
        assert await desk.events() == ["icc.dispatch.recommended", "icc.dispatch.assigned"]

    async def test_all_or_nothing_when_one_unit_is_taken(self, desk: Desk) -> None:
        await self._awaiting_dispatcher(desk)
        desk.resources.taken.add("E2")
        with pytest.raises(UnitsUnavailable) as lost:
            await desk.service.assign("inc-1", ["E1", "E2"], "req-1", "", DISPATCHER)
        assert "E2" in str(lost.value)
        assert [sorted(r) for r in desk.resources.reserved] == [["E1", "E2"]]
        assert desk.resources.refreshed == ["E2"]
        assert await desk.units_of("inc-1") == {}  # neither unit
        assert not desk.fleet.held
        assert desk.fleet.get("E2") is not None and not desk.fleet.get("E2").available  # type: ignore[union-attr]

    async def test_bad_requests_name_the_field(self, desk: Desk) -> None:
        await self._awaiting_dispatcher(desk)
        with pytest.raises(InvalidInput) as bad:
            await desk.service.assign("inc-1", ["E1", "E1"], "", "", DISPATCHER)
        assert [v.field for v in bad.value.violations] == ["units"]
        with pytest.raises(NotFound):
            await desk.service.assign("inc-1", ["nope"], "", "", DISPATCHER)
        with pytest.raises(NotFound):
            await desk.service.assign("inc-404", ["E1"], "", "", DISPATCHER)
        assert desk.resources.reserved == []

    async def test_a_unit_not_recommended_needs_a_reason(self, desk: Desk) -> None:
        await self._awaiting_dispatcher(desk)
        desk.fleet.put(replace(engine("P9", 0.5), kind=UnitKind.PATROL_CAR, agency=Agency.POLICE))
        with pytest.raises(InvalidInput) as bad:
            await desk.service.assign("inc-1", ["E1", "P9"], "", "", DISPATCHER)
        assert [v.field for v in bad.value.violations] == ["override_reason"]
        done = await desk.service.assign("inc-1", ["E1", "P9"], "", "hold the crowd", DISPATCHER)
        assert {a.unit_id: a.override_reason for a in done} == {"E1": "", "P9": "hold the crowd"}


class TestReservationRace:
    async def test_a_lost_reservation_is_retried_with_the_next_best(self, desk: Desk) -> None:
        desk.resources.taken.add("E1")  # taken elsewhere; this view has not heard yet
        await desk.take_in("evt-1", incident(1))
        assert desk.resources.reserved == [["E1"], ["E2"]]
        assert desk.resources.refreshed == ["E1"]
        assert await desk.units_of("inc-1") == {"E2": S.ASSIGNED}
        assert await desk.events() == ["icc.dispatch.assigned"]


class TestRelease:
    async def test_a_dispatcher_releases_an_incidents_units(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        released = await desk.service.release("inc-1", [], "fire out", DISPATCHER)
        assert [(a.unit_id, a.state, a.release_reason) for a in released] == [
            ("E1", S.RELEASED, "fire out")
        ]
        assert desk.resources.released == [(["E1"], "fire out")]
        assert "E1" not in desk.resources.holder
        assert await desk.events() == ["icc.dispatch.assigned", "icc.dispatch.released"]

    async def test_only_the_incidents_units_can_be_released(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        with pytest.raises(InvalidInput) as bad:
            await desk.service.release("inc-1", ["E2"], "", DISPATCHER)
        assert [v.field for v in bad.value.violations] == ["units"]
        assert desk.resources.released == []


class TestEscalation:
    async def test_a_unit_that_does_not_acknowledge_in_time_is_replaced(self, desk: Desk) -> None:
        await desk.take_in("evt-1", incident(1))
        desk.clock.advance(59)
        assert await desk.service.escalate_overdue() == 0
        desk.clock.advance(2)
        assert await desk.service.escalate_overdue() == 1
        assert desk.resources.released == [
            (["E1"], "not acknowledged within 60 s; the next best unit is sent")
        ]
        await desk.service.drain()
        # The next best, never the same unit again.
        assert await desk.units_of("inc-1") == {"E2": S.ASSIGNED}
        assert await desk.events() == [
            "icc.dispatch.assigned",
            "icc.dispatch.escalated",
            "icc.dispatch.assigned",
        ]


class TestPriorityQueue:
    async def test_freed_units_go_to_the_most_urgent_waiting_incident_first(
        self, desk: Desk
    ) -> None:
        units = [desk.fleet.get(u) for u in ("E1", "E2", "E3")]
        for u in units:
            assert u is not None
            desk.fleet.put(replace(u, status=UnitStatus.ON_SCENE, version=2))
        # A backlog, oldest first: P4, then P2, then P1; no engine is free.
        for n, priority in enumerate((Priority.P4, Priority.P2, Priority.P1)):
            await desk.service.on_incident(f"evt-{n}", incident(n, priority, auto=True))
        await desk.service.drain()
        assert desk.resources.reserved == []
        holders = []
        for u in units:
            assert u is not None
            desk.free(replace(u, version=3))
            await desk.service.drain()
            holders.append(desk.resources.holder[u.id])
        assert holders == ["inc-2", "inc-1", "inc-0"]
