"""A dispatch desk for use-case tests: the service facade over a real SQLite file, with
fakes for the resources service and the clock (no bus, no network), and counts of the
statements it runs."""

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest_asyncio
from sqlalchemy import event, select

from icc_dispatch import store
from icc_dispatch.domain.errors import UnitsUnavailable
from icc_dispatch.domain.eta import TravelModel
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.hospitals import HospitalView
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
    # The hospitals as ListHospitals answers (a test sets their diversion).
    hospitals: list[HospitalView] = field(default_factory=list)
    hospitals_down: bool = False

    async def list_hospitals(self) -> list[HospitalView]:
        if self.hospitals_down:
            raise ConnectionError("resources service unreachable")
        return list(self.hospitals)

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

    async def payloads(self, subject: str) -> list[bytes]:
        """What was announced on `subject`, oldest first (protobuf bytes)."""
        o = store.outbox
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(o.c.payload).where(o.c.subject == subject).order_by(o.c.id)
            )
            return [bytes(r.payload) for r in rows]

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
        list_hospitals=resources.list_hospitals,
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
