"""Prepares the resources service's SQLite database with a larger fleet, as its own process.

Runs the service's own migrations on a fresh file, then inserts made-up units (same
columns as the service writes, through `icc_resources.store.unit_row`) until the
fleet, together with the 572 reference units the service seeds at its first start,
has `--units` units. Writes every unit id, one per line, to `--ids-out` for the
publisher. The service loads the known unit ids when it starts, so this runs first.

    python -m bench.avl_fleet --db PATH --units 5000 --ids-out FILE
"""

import argparse
import asyncio
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from sqlalchemy import insert

from icc_kernel.vocabulary import Agency, UnitKind, UnitStatus
from icc_resources import store
from icc_resources.domain.model import Unit
from icc_resources.seed import load_reference_data
from icc_storage import Database, upgrade

# Kinds a made-up unit of each agency can have, and the capabilities it carries.
KINDS: dict[Agency, list[tuple[UnitKind, tuple[str, ...], int]]] = {
    Agency.FIRE: [(UnitKind.ENGINE, ("WATER_PUMP",), 6), (UnitKind.RESCUE, ("EXTRICATION",), 4)],
    Agency.MEDICAL: [
        (UnitKind.AMBULANCE_BLS, ("BLS",), 3),
        (UnitKind.MOTORBIKE_RESPONDER, ("BLS", "DEFIBRILLATOR"), 1),
    ],
    Agency.POLICE: [(UnitKind.PATROL_CAR, (), 2), (UnitKind.POLICE_MOTORBIKE, (), 2)],
}


def extra_units(count: int, stations: dict[Agency, list[str]], now: datetime) -> list[Unit]:
    agencies = [a for a in KINDS if stations.get(a)]
    out = []
    for i in range(count):
        agency = agencies[i % len(agencies)]
        kind, capabilities, crew = KINDS[agency][(i // len(agencies)) % len(KINDS[agency])]
        home = stations[agency][i % len(stations[agency])]
        out.append(
            Unit(
                id=f"U-BENCH-{i:05d}",
                call_sign=f"BENCH-{i:05d}",
                agency=agency,
                kind=kind,
                status=UnitStatus.AVAILABLE,
                home_station=home,
                capabilities=capabilities,
                crew=crew,
                status_time=now,
            )
        )
    return out


async def prepare(db_path: Path, total: int) -> list[str]:
    """Migrates and fills the database; returns every unit id."""
    now = datetime.now(UTC)
    reference = load_reference_data(now)
    stations: dict[Agency, list[str]] = {}
    for s in reference.stations:
        stations.setdefault(s.agency, []).append(s.id)
    extra = extra_units(max(0, total - len(reference.units)), stations, now)
    db = Database(f"sqlite+aiosqlite:///{db_path}")
    try:
        await upgrade(db, Path(str(resources.files("icc_resources") / "migrations")))
        if extra:
            async with db.write() as conn:
                await conn.execute(insert(store.units), [store.unit_row(u) for u in extra])
    finally:
        await db.dispose()
    return [u.id for u in reference.units] + [u.id for u in extra]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--units", type=int, required=True)
    parser.add_argument("--ids-out", type=Path, required=True)
    args = parser.parse_args()
    ids = asyncio.run(prepare(args.db, args.units))
    args.ids_out.write_text("\n".join(ids) + "\n", "utf-8")


if __name__ == "__main__":
    main()
