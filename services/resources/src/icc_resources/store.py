"""Tables of the resources service and the repository over them (SQLAlchemy Core)."""

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_resources.domain.errors import NotFound
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
from icc_storage import WriteTx, inbox_table, outbox_table

metadata = MetaData()

stations = Table(
    "stations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("agency", Integer, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("name_vi", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("ward", String(100), nullable=False),
    Column("approximate", Boolean, nullable=False),
)

units = Table(
    "units",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("call_sign", String(32), nullable=False, unique=True),
    Column("agency", Integer, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("home_station", String(64), nullable=False),
    Column("capabilities", Text, nullable=False),
    Column("crew", Integer, nullable=False),
    # The incident holding the unit. A unit is held by at most one incident: the
    # column holds one value, and reservation is a conditional update on it.
    Column("incident_id", String(32)),
    Column("status_time", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_units_agency_status", units.c.agency, units.c.status)

hospitals = Table(
    "hospitals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name_vi", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("ward", String(100), nullable=False),
    Column("capabilities", Text, nullable=False),
    Column("total", Text, nullable=False),
    Column("available", Text, nullable=False),
    Column("diversion", Integer, nullable=False),
    Column("approximate", Boolean, nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
)

# Answers to ReserveUnits/ReleaseUnits by request id, so a retry gets the first answer.
requests = Table(
    "requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("method", String(32), nullable=False),
    Column("incident_id", String(32), nullable=False),
    Column("unit_ids", Text, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

# Append-only history of every unit and hospital change: who, what, when.
chronology = Table(
    "chronology",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(80), nullable=False, index=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("actor_user", String(200), nullable=False),
    Column("actor_agency", Integer, nullable=False),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=False),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def unit_row(u: Unit) -> dict[str, Any]:
    return {
        "id": u.id,
        "call_sign": u.call_sign,
        "agency": int(u.agency),
        "kind": int(u.kind),
        "status": int(u.status),
        "home_station": u.home_station,
        "capabilities": ",".join(u.capabilities),
        "crew": u.crew,
        "incident_id": u.incident_id,
        "status_time": u.status_time,
        "version": u.version,
    }


def unit_from(r: Any) -> Unit:
    return Unit(
        id=r.id,
        call_sign=r.call_sign,
        agency=Agency(r.agency),
        kind=UnitKind(r.kind),
        status=UnitStatus(r.status),
        home_station=r.home_station,
        capabilities=tuple(c for c in r.capabilities.split(",") if c),
        crew=r.crew,
        incident_id=r.incident_id,
        status_time=_utc(r.status_time),
        version=r.version,
    )


def station_row(s: Station) -> dict[str, Any]:
    return {
        "id": s.id,
        "agency": int(s.agency),
        "kind": int(s.kind),
        "name_vi": s.name_vi,
        "name_en": s.name_en,
        "lat": s.lat,
        "lon": s.lon,
        "ward": s.ward,
        "approximate": s.approximate,
    }


def station_from(r: Any) -> Station:
    return Station(
        r.id,
        Agency(r.agency),
        StationKind(r.kind),
        r.name_vi,
        r.name_en,
        r.lat,
        r.lon,
        r.ward,
        bool(r.approximate),
    )


def hospital_row(h: Hospital) -> dict[str, Any]:
    return {
        "id": h.id,
        "name_vi": h.name_vi,
        "name_en": h.name_en,
        "lat": h.lat,
        "lon": h.lon,
        "ward": h.ward,
        "capabilities": ",".join(h.capabilities),
        "total": json.dumps(h.total.fields()),
        "available": json.dumps(h.available.fields()),
        "diversion": int(h.diversion),
        "approximate": h.approximate,
        "update_time": h.update_time,
        "version": h.version,
    }


def hospital_from(r: Any) -> Hospital:
    return Hospital(
        id=r.id,
        name_vi=r.name_vi,
        name_en=r.name_en,
        lat=r.lat,
        lon=r.lon,
        ward=r.ward,
        capabilities=tuple(c for c in r.capabilities.split(",") if c),
        total=Capacity(**json.loads(r.total)),
        available=Capacity(**json.loads(r.available)),
        diversion=Diversion(r.diversion),
        update_time=_utc(r.update_time),
        approximate=bool(r.approximate),
        version=r.version,
    )


_LOAD_UNITS = select(units).where(units.c.id.in_(bindparam("ids", expanding=True)))


async def load_units(conn: AsyncConnection, ids: list[str]) -> dict[str, Unit]:
    rows = await conn.execute(_LOAD_UNITS, {"ids": ids})
    return {r.id: unit_from(r) for r in rows}


async def load_unit(conn: AsyncConnection, unit_id: str) -> Unit:
    found = await load_units(conn, [unit_id])
    if unit_id not in found:
        raise NotFound(f"units/{unit_id}")
    return found[unit_id]


# One statement for every save, the values as parameters: building an UPDATE with its
# values in `.values(...)` and its cache key on each call cost more than the UPDATE.
_SAVE_UNIT = update(units).where(
    units.c.id == bindparam("b_id"), units.c.version == bindparam("b_expected")
)


async def save_unit(conn: AsyncConnection, unit: Unit, *, expected_version: int) -> bool:
    """Write a changed unit only if nobody changed it since it was read."""
    result = await conn.execute(
        _SAVE_UNIT, {"b_id": unit.id, "b_expected": expected_version, **unit_row(unit)}
    )
    return bool(result.rowcount == 1)


async def reserve_units(
    conn: AsyncConnection, unit_ids: list[str], incident_id: str, now: datetime
) -> set[str]:
    """The database's guard against double booking: only free units change.

    One conditional UPDATE: on SQLite the write lock serializes it, on PostgreSQL
    each row lock re-checks the condition after a concurrent commit. Returns
    the ids this statement changed: fewer than asked means another incident won a unit.
    """
    result = await conn.execute(
        _RESERVE, {"unit_ids": unit_ids, "b_incident_id": incident_id, "b_now": now}
    )
    return set(result.scalars())


_RESERVE = (
    update(units)
    .where(
        units.c.id.in_(bindparam("unit_ids", expanding=True)),
        units.c.status == int(UnitStatus.AVAILABLE),
        units.c.incident_id.is_(None),
    )
    .values(
        status=int(UnitStatus.DISPATCHED),
        incident_id=bindparam("b_incident_id"),
        status_time=bindparam("b_now"),
        version=units.c.version + 1,
    )
    .returning(units.c.id)
)


def record(
    tx: WriteTx,
    subject: str,
    now: datetime,
    actor_user: str,
    actor_agency: int,
    action: str,
    detail: str,
) -> None:
    tx.add(
        chronology,
        [
            {
                "subject": subject,
                "time": now,
                "actor_user": actor_user,
                "actor_agency": actor_agency,
                "action": action,
                "detail": detail,
            }
        ],
    )
