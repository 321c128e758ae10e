"""Dispatch's store on SQLite and PostgreSQL: what a freed unit wakes, a reservation
confirmed once across replicas."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from icc_dispatch import store
from icc_dispatch.domain.events import AssignmentAcknowledged, AssignmentEscalated, UnitsAssigned
from icc_dispatch.domain.model import (
    SYSTEM,
    AssignmentState,
    IncidentPhase,
    IncidentView,
    Point,
    Priority,
    UnitKind,
)
from icc_dispatch.outbox_events import event_id_of
from icc_kernel.reasons import Reason, ReasonCode
from icc_storage import Database, upgrade

from .conftest import assignment

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def view(n: int, priority: Priority) -> IncidentView:
    return IncidentView(
        id=f"inc-{n:03d}",
        type_code="FIRE.RUBBISH",
        priority=priority,
        location=Point(10.77, 106.70),
        phase=IncidentPhase.OPEN,
        create_time=T0 + timedelta(seconds=n),
        version=1,
        auto=True,
    )


async def test_freed_units_wake_as_many_waiting_incidents_most_urgent_first(
    database_url: str,
) -> None:
    db = Database(database_url)
    try:
        await upgrade(db, Path(str(resources.files("icc_dispatch") / "migrations")))
        # 30 incidents wait for engines (every third a P1), 5 for ambulances.
        async with db.write() as conn:
            for n in range(35):
                v = view(n, Priority.P1 if n % 3 == 0 else Priority.P2)
                await store.upsert_incident(conn, v, attention=False, trace_context="{}")
                kind = UnitKind.ENGINE if n < 30 else UnitKind.AMBULANCE_ALS
                await store.bump(conn, v.id, 1, waiting=True, waiting_for=store.kinds_text([kind]))
        async with db.write() as conn:
            woken = await store.wake_waiting(conn, {UnitKind.ENGINE: 3, UnitKind.LADDER: 2})
        assert woken == 3
        async with db.read() as conn:
            rows = await store.most_urgent(conn, [], limit=100)
        # The three oldest P1s waiting for an engine, nobody else.
        assert [r.id for r in rows] == ["inc-000", "inc-003", "inc-006"]
        assert all(not r.waiting for r in rows)
    finally:
        await db.dispose()


async def test_a_reservation_confirmed_by_two_replicas_at_once_is_confirmed_once(
    database_url: str,
) -> None:
    """Two replicas settle one reservation (its proposer, and another that took it for
    interrupted): the second to read its assignments waits for the first to commit and
    reads them confirmed, so only one announces them."""
    db = Database(database_url)
    try:
        await upgrade(db, Path(str(resources.files("icc_dispatch") / "migrations")))
        async with db.write() as conn:
            await store.upsert_incident(
                conn, view(1, Priority.P1), attention=False, trace_context="{}"
            )
            proposal = replace(
                assignment("engine", AssignmentState.PROPOSED, id="a1"), incident_id="inc-001"
            )
            await store.insert_assignments(conn, [proposal])
        first_read = asyncio.Event()
        announced: list[str] = []

        async def confirm(replica: str, wait: asyncio.Event | None) -> None:
            async with db.write() as conn:
                current = await store.by_request(conn, "r1", lock=True)
                first_read.set()
                if wait is not None:
                    await asyncio.sleep(0.5)  # the other replica reads meanwhile
                fresh = [a for a in current if a.state is AssignmentState.PROPOSED]
                if fresh:
                    announced.append(replica)
                    await store.save_assignments(
                        conn, [replace(a, state=AssignmentState.ASSIGNED) for a in fresh]
                    )

        async def second() -> None:
            await first_read.wait()
            await confirm("B", None)

        await asyncio.gather(confirm("A", first_read), second())
        assert announced == ["A"]
    finally:
        await db.dispose()


LATE = Reason.of(ReasonCode.NOT_ACKNOWLEDGED_IN_TIME, seconds=60)


def test_a_fact_has_one_event_id_whoever_announces_it() -> None:
    a = assignment("engine", id="a1")
    b = assignment("engine", id="a2")
    t = datetime(2026, 11, 25, tzinfo=UTC)
    once = UnitsAssigned(
        actor=SYSTEM, time=t, incident_id="i1", priority=Priority.P1, assignments=(a, b)
    )
    again = UnitsAssigned(
        actor=SYSTEM,
        time=t + timedelta(seconds=3),
        incident_id="i1",
        priority=Priority.P1,
        assignments=(b, a),
    )
    assert event_id_of(once) == event_id_of(again)
    assert event_id_of(AssignmentAcknowledged(actor=SYSTEM, time=t, assignment=a)) != event_id_of(
        AssignmentEscalated(actor=SYSTEM, time=t, assignment=a, reason=LATE)
    )
