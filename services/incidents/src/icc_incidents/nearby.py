"""Reads around a point and the call-taking rows: candidates for a duplicate, earlier
incidents near a place, cautions in force, further callers (SQLAlchemy Core).

Near-point reads take a band of latitude and longitude (the `ix_*_lat` indexes),
and the domain measures the exact distance: a box's corners are a little wider than
the circle, never narrower.
"""

import math
from collections import Counter
from datetime import datetime

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_city.geo import Point, distance_m
from icc_incidents import store
from icc_incidents.domain.duplicates import phone_key
from icc_incidents.domain.model import Caller, Caution, Incident, Location, PlaceHistory
from icc_kernel.actors import Actor
from icc_kernel.clock import as_utc
from icc_kernel.vocabulary import Agency, CallLine, CautionKind, IncidentState
from icc_storage import WriteTx

_M_PER_DEG_LAT = 111_320.0
_OPEN = [int(s) for s in IncidentState if not s.terminal]
t = store.incidents


def _band(point: Point, metres: float) -> tuple[float, float, float, float]:
    dlat = metres / _M_PER_DEG_LAT
    dlon = metres / (_M_PER_DEG_LAT * max(0.1, math.cos(math.radians(point.lat))))
    return point.lat - dlat, point.lat + dlat, point.lon - dlon, point.lon + dlon


def _relevant_since(since: datetime):  # type: ignore[no-untyped-def]
    """Open, or ended after `since`; never merged."""
    return and_(
        t.c.state != int(IncidentState.MERGED),
        or_(t.c.state.in_(_OPEN), t.c.close_time >= since),
    )


async def duplicate_candidates(
    conn: AsyncConnection,
    point: Point,
    radius_m: float,
    type_codes: tuple[str, ...],
    phone: str,
    since: datetime,
) -> tuple[list[Incident], frozenset[str]]:
    """Incidents of `type_codes` open or ended since `since` in a box around the
    point, and any such incident a caller of `phone` called about; with the ids of the
    latter."""
    lat0, lat1, lon0, lon1 = _band(point, radius_m)
    query = select(t).where(
        t.c.lat.between(lat0, lat1),
        t.c.lon.between(lon0, lon1),
        t.c.type_code.in_(type_codes),
        _relevant_since(since),
    )
    found = {r.id: store.incident_from_row(r) for r in await conn.execute(query)}
    same_phone: set[str] = set()
    key = phone_key(phone)
    if key:
        attached = select(store.callers.c.incident_id).where(store.callers.c.phone_key == key)
        query = select(t).where(
            or_(t.c.caller_phone_key == key, t.c.id.in_(attached)), _relevant_since(since)
        )
        for r in await conn.execute(query):
            same_phone.add(r.id)
            found.setdefault(r.id, store.incident_from_row(r))
    return list(found.values()), frozenset(same_phone)


async def history(
    conn: AsyncConnection,
    point: Point,
    radius_m: float,
    since: datetime,
    days: int,
    family_of: dict[str, str],
) -> tuple[PlaceHistory, ...]:
    """Incidents created since `since` within `radius_m`, counted by family (merged
    ones are counted in their survivor)."""
    lat0, lat1, lon0, lon1 = _band(point, radius_m)
    query = select(t.c.lat, t.c.lon, t.c.type_code).where(
        t.c.lat.between(lat0, lat1),
        t.c.lon.between(lon0, lon1),
        t.c.create_time >= since,
        t.c.state != int(IncidentState.MERGED),
    )
    counts: Counter[str] = Counter()
    for r in await conn.execute(query):
        if distance_m(point, Point(r.lat, r.lon)) <= radius_m:
            counts[family_of.get(r.type_code, "OTHER")] += 1
    return tuple(PlaceHistory(f, n, days) for f, n in sorted(counts.items()))


# Cautions

c = store.cautions
_CAUTION_BY_REQUEST = select(c).where(c.c.request_id == bindparam("request_id"))


def _caution_from_row(r: object) -> Caution:
    return Caution(
        id=r.id,  # type: ignore[attr-defined]
        kind=CautionKind(r.kind),  # type: ignore[attr-defined]
        text=r.text,  # type: ignore[attr-defined]
        location=Location(r.lat, r.lon, r.address, r.ward),  # type: ignore[attr-defined]
        radius_m=r.radius_m,  # type: ignore[attr-defined]
        valid_until=as_utc(r.valid_until),  # type: ignore[attr-defined]
        created_by=Actor(
            r.created_by_user,  # type: ignore[attr-defined]
            Agency(r.created_by_agency),  # type: ignore[attr-defined]
            r.created_by_role,  # type: ignore[attr-defined]
        ),
        create_time=as_utc(r.create_time),  # type: ignore[attr-defined]
    )


async def cautions_near(
    conn: AsyncConnection, point: Point, reach_m: float, now: datetime
) -> list[Caution]:
    """Cautions in force whose point lies within `reach_m` (the widest radius a
    caution may have, its slack and the asked radius) of the point."""
    lat0, lat1, lon0, lon1 = _band(point, reach_m)
    query = select(c).where(
        c.c.lat.between(lat0, lat1), c.c.lon.between(lon0, lon1), c.c.valid_until > now
    )
    return [_caution_from_row(r) for r in await conn.execute(query)]


def insert_caution(tx: WriteTx, caution: Caution, request_id: str) -> None:
    tx.add(
        c,
        [
            {
                "id": caution.id,
                "kind": int(caution.kind),
                "text": caution.text,
                "lat": caution.location.lat,
                "lon": caution.location.lon,
                "address": caution.location.address,
                "ward": caution.location.ward,
                "radius_m": caution.radius_m,
                "valid_until": caution.valid_until,
                "created_by_user": caution.created_by.user,
                "created_by_agency": int(caution.created_by.agency),
                "created_by_role": caution.created_by.role,
                "create_time": caution.create_time,
                "request_id": request_id or None,
            }
        ],
    )


async def find_caution(conn: AsyncConnection, request_id: str) -> Caution | None:
    row = (await conn.execute(_CAUTION_BY_REQUEST, {"request_id": request_id})).first()
    return _caution_from_row(row) if row else None


# Further callers

k = store.callers
_CALLER_BY_REQUEST = select(k.c.incident_id).where(k.c.request_id == bindparam("request_id"))


def insert_caller(
    tx: WriteTx, incident_id: str, caller: Caller, taken_by: Actor, request_id: str
) -> None:
    tx.add(
        k,
        [
            {
                "incident_id": incident_id,
                "name": caller.name,
                "phone": caller.phone,
                "phone_key": phone_key(caller.phone),
                "language": caller.language,
                "call_line": int(caller.call_line or CallLine.OTHER),
                "call_time": caller.call_time,
                "taken_by_user": taken_by.user,
                "taken_by_agency": int(taken_by.agency),
                "taken_by_role": taken_by.role,
                "request_id": request_id or None,
            }
        ],
    )


async def incident_of_caller_request(conn: AsyncConnection, request_id: str) -> str | None:
    """The incident a caller was attached to under `request_id`, if one was."""
    row = (await conn.execute(_CALLER_BY_REQUEST, {"request_id": request_id})).first()
    return str(row.incident_id) if row else None
