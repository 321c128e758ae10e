"""The city's reference data (stations, hospitals, fleet), loaded at first start.

Loading is idempotent: rows that exist are left as they are (a unit keeps its
status, a hospital its reported capacity), missing rows are added.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from sqlalchemy import select

from icc_resources import store
from icc_resources.domain.model import (
    Agency,
    Capacity,
    Diversion,
    Hospital,
    Station,
    StationKind,
    Unit,
    UnitKind,
    UnitStatus,
)
from icc_storage import WriteTx, insert_if_absent


@dataclass(frozen=True)
class ReferenceData:
    stations: list[Station]
    hospitals: list[Hospital]
    units: list[Unit]


def _read(name: str) -> Any:
    return json.loads((resources.files("icc_resources") / "data" / name).read_text("utf-8"))


def load_reference_data(now: datetime) -> ReferenceData:
    stations = [
        Station(
            s["id"],
            Agency[s["agency"]],
            StationKind[s["kind"]],
            s["name_vi"],
            s["name_en"],
            float(s["lat"]),
            float(s["lon"]),
            s.get("ward", ""),
            bool(s.get("approximate", True)),
        )
        for s in _read("stations.json")["stations"]
    ]
    hospitals = [
        Hospital(
            id=h["id"],
            name_vi=h["name_vi"],
            name_en=h["name_en"],
            lat=float(h["lat"]),
            lon=float(h["lon"]),
            ward=h.get("ward", ""),
            capabilities=tuple(h.get("capabilities", ())),
            total=Capacity(**h["capacity"]),
            available=Capacity(**h["capacity"]),
            diversion=Diversion.OPEN,
            update_time=now,
            approximate=bool(h.get("approximate", True)),
        )
        for h in _read("hospitals.json")["hospitals"]
    ]
    units = [
        Unit(
            id=u["id"],
            call_sign=u["call_sign"],
            agency=Agency[u["agency"]],
            kind=UnitKind[u["kind"]],
            status=UnitStatus.AVAILABLE,
            home_station=u["home_station"],
            capabilities=tuple(u.get("capabilities", ())),
            crew=int(u.get("crew", 2)),
            status_time=now,
        )
        for u in _read("fleet.json")["units"]
    ]
    return ReferenceData(stations, hospitals, units)


async def seed(tx: WriteTx, data: ReferenceData) -> dict[str, int]:
    """Add the rows that are missing; returns how many of each were added."""
    added: dict[str, int] = {}
    for table, rows in (
        (store.stations, [store.station_row(s) for s in data.stations]),
        (store.hospitals, [store.hospital_row(h) for h in data.hospitals]),
        (store.units, [store.unit_row(u) for u in data.units]),
    ):
        existing = set((await tx.conn.execute(select(table.c.id))).scalars())
        missing = [r for r in rows if r["id"] not in existing]
        if missing:
            # A replica starting at the same moment may add the same rows: skip those.
            await tx.conn.execute(insert_if_absent(tx.conn.dialect.name, table), missing)
        added[table.name] = len(missing)
    return added
