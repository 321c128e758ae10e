"""Tables of the resources service and the repository over them (SQLAlchemy Core)."""

import json
from datetime import datetime
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

from icc_kernel.clock import as_utc
from icc_kernel.errors import NotFound
from icc_kernel.names import name_of
from icc_kernel.vocabulary import Agency, Diversion, StationKind, UnitKind, UnitStatus
from icc_resources.domain.events import ResourceEvent
from icc_resources.domain.model import Capacity, Hospital, Station, Unit, UnitFilter
from icc_resources.seed import ReferenceData
from icc_storage import WriteTx, inbox_table, insert_if_absent, outbox_table

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
        status_time=as_utc(r.status_time),
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
        update_time=as_utc(r.update_time),
        approximate=bool(r.approximate),
        version=r.version,
    )


# Reads


async def list_units(
    conn: AsyncConnection, flt: UnitFilter, limit: int, after: str, known: dict[str, Unit]
) -> list[Unit]:
    """Up to `limit` units after id `after`, in id order. `known`: units as last read, by
    id; a row whose version matches is the same unit and is not built again (ListUnits
    of a 5,000-unit fleet spent most of its time building objects)."""
    t = units
    query = select(t).where(t.c.id > after).order_by(t.c.id).limit(limit)
    if flt.agency is not None:
        query = query.where(t.c.agency == int(flt.agency))
    if flt.statuses:
        query = query.where(t.c.status.in_([int(s) for s in flt.statuses]))
    if flt.kinds:
        query = query.where(t.c.kind.in_([int(k) for k in flt.kinds]))
    if flt.home_station:
        query = query.where(t.c.home_station == flt.home_station)
    found = []
    for row in await conn.execute(query):
        unit = known.get(row.id)
        if unit is None or unit.version != row.version:
            unit = known[row.id] = unit_from(row)
        found.append(unit)
    return found


_UNIT_IDS = select(units.c.id)
_UNIT_AGENCIES = select(units.c.id, units.c.agency)
_STATIONS = select(stations).order_by(stations.c.id)
_HOSPITALS = select(hospitals).order_by(hospitals.c.id)
_HOSPITAL = select(hospitals).where(hospitals.c.id == bindparam("hospital_id"))
_LOAD_UNITS = select(units).where(units.c.id.in_(bindparam("ids", expanding=True)))


async def unit_ids(conn: AsyncConnection) -> set[str]:
    return set((await conn.execute(_UNIT_IDS)).scalars())


async def unit_agencies(conn: AsyncConnection) -> dict[str, Agency]:
    rows = await conn.execute(_UNIT_AGENCIES)
    return {unit_id: Agency(agency) for unit_id, agency in rows}


async def list_stations(conn: AsyncConnection, agency: Agency | None) -> list[Station]:
    query = _STATIONS if agency is None else _STATIONS.where(stations.c.agency == int(agency))
    return [station_from(r) for r in await conn.execute(query)]


async def list_hospitals(conn: AsyncConnection) -> list[Hospital]:
    return [hospital_from(r) for r in await conn.execute(_HOSPITALS)]


async def load_hospital(conn: AsyncConnection, hospital_id: str) -> Hospital:
    row = (await conn.execute(_HOSPITAL, {"hospital_id": hospital_id})).first()
    if row is None:
        raise NotFound(name_of("hospitals", hospital_id))
    return hospital_from(row)


async def load_units(conn: AsyncConnection, ids: list[str]) -> dict[str, Unit]:
    rows = await conn.execute(_LOAD_UNITS, {"ids": ids})
    return {r.id: unit_from(r) for r in rows}


async def load_unit(conn: AsyncConnection, unit_id: str) -> Unit:
    found = await load_units(conn, [unit_id])
    if unit_id not in found:
        raise NotFound(name_of("units", unit_id))
    return found[unit_id]


# Writes. One statement for every save, the values as parameters: building an UPDATE
# with its values in `.values(...)` and its cache key on each call cost more than the
# UPDATE.
_SAVE_UNIT = update(units).where(
    units.c.id == bindparam("b_id"), units.c.version == bindparam("b_expected")
)
_SAVE_HOSPITAL = update(hospitals).where(
    hospitals.c.id == bindparam("b_id"), hospitals.c.version == bindparam("b_expected")
)


async def save_unit(conn: AsyncConnection, unit: Unit, *, expected_version: int) -> bool:
    """Write a changed unit only if nobody changed it since it was read."""
    result = await conn.execute(
        _SAVE_UNIT, {"b_id": unit.id, "b_expected": expected_version, **unit_row(unit)}
    )
    return bool(result.rowcount == 1)


async def save_hospital(
    conn: AsyncConnection, hospital: Hospital, *, expected_version: int
) -> bool:
    """Write a changed hospital only if nobody changed it since it was read."""
    result = await conn.execute(
        _SAVE_HOSPITAL,
        {"b_id": hospital.id, "b_expected": expected_version, **hospital_row(hospital)},
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


def append_history(tx: WriteTx, event: ResourceEvent) -> None:
    tx.add(
        chronology,
        [
            {
                "subject": event.subject,
                "time": event.time,
                "actor_user": event.actor.user,
                "actor_agency": int(event.actor.agency),
                "action": event.action,
                "detail": event.detail,
            }
        ],
    )


# Reservations and releases by request id: a retry gets the first answer.
_REQUEST = select(requests).where(requests.c.request_id == bindparam("request_id"))


async def recorded_request(conn: AsyncConnection, request_id: str) -> tuple[str, str, str] | None:
    """(method, incident id, unit ids joined by commas) of a request answered before."""
    row = (await conn.execute(_REQUEST, {"request_id": request_id})).first()
    return None if row is None else (row.method, row.incident_id, row.unit_ids)


def record_request(
    tx: WriteTx, request_id: str, method: str, incident_id: str, unit_ids: str, now: datetime
) -> None:
    tx.add(
        requests,
        [
            {
                "request_id": request_id,
                "method": method,
                "incident_id": incident_id,
                "unit_ids": unit_ids,
                "create_time": now,
            }
        ],
    )


async def add_missing(tx: WriteTx, data: ReferenceData) -> dict[str, int]:
    """Add the reference rows that are missing; returns how many of each were added.

    Rows that exist are left as they are (a unit keeps its status, a hospital its
    reported capacity)."""
    added: dict[str, int] = {}
    for table, rows in (
        (stations, [station_row(s) for s in data.stations]),
        (hospitals, [hospital_row(h) for h in data.hospitals]),
        (units, [unit_row(u) for u in data.units]),
    ):
        existing = set((await tx.conn.execute(select(table.c.id))).scalars())
        missing = [r for r in rows if r["id"] not in existing]
        if missing:
            # A replica starting at the same moment may add the same rows: skip those.
            await tx.conn.execute(insert_if_absent(tx.conn.dialect.name, table), missing)
        added[table.name] = len(missing)
    return added
