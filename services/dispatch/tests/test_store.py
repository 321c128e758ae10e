"""Dispatch's store on SQLite and PostgreSQL: what a freed unit wakes."""

from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from icc_dispatch import store
from icc_dispatch.domain.model import IncidentPhase, IncidentView, Point, Priority, UnitKind
from icc_storage import Database, upgrade

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
