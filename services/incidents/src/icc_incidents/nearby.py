"""Reads around a point and the call-taking rows: candidates for a duplicate, earlier
incidents near a place, cautions in force, further callers (SQLAlchemy Core).

Near-point reads take a band of latitude and longitude (the `ix_*_lat` indexes),
and the domain measures the exact distance: a box's corners are a little wider than
the circle, never narrower. Where a place may hold thousands of incidents (a flood, a
month's history) the database ranks and counts by a flat-earth distance (within 0.1 %
of the great circle at these scales) so intake reads a bounded number of rows: a read
of every incident near a busy spot, each turned into a domain object, made intake's cost
grow with the incidents already there.
"""

import math
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_city.geo import Point
from icc_incidents import store
from icc_incidents.domain.duplicates import phone_key
from icc_incidents.domain.model import Caller, Caution, Incident, Location, PlaceHistory
from icc_kernel.actors import Actor
from icc_kernel.clock import as_utc
from icc_kernel.vocabulary import CallLine, CautionKind, IncidentState
from icc_storage import WriteTx

_M_PER_DEG_LAT = 111_320.0
_OPEN = [int(s) for s in IncidentState if not s.terminal]
t = store.incidents


def _band(point: Point, metres: float) -> tuple[float, float, float, float]:
    dlat = metres / _M_PER_DEG_LAT
    dlon = metres / (_M_PER_DEG_LAT * max(0.1, math.cos(math.radians(point.lat))))
    return point.lat - dlat, point.lat + dlat, point.lon - dlon, point.lon + dlon


# Statements built once, values as parameters (see `store.records._SAVE_INCIDENT`): intake runs
# them for every call.
_RELEVANT = and_(
    t.c.state != int(IncidentState.MERGED),
    or_(
        and_(t.c.state.in_(_OPEN), t.c.update_time >= bindparam("since")),
        t.c.close_time >= bindparam("since"),
    ),
)
_IN_BAND = and_(
    t.c.lat.between(bindparam("lat0"), bindparam("lat1")),
    t.c.lon.between(bindparam("lon0"), bindparam("lon1")),
)
# The nearest candidates for a duplicate, and the same phone's latest: twice what a
# call-taker is shown (`duplicates.MOST_SHOWN`), few enough to read at every call.
CANDIDATES = 20


def _flat_distance_squared() -> ColumnElement[float]:
    """Metres squared from the point (`lat`, `lon`), scaled by `ky` and `kx`."""
    dy = (t.c.lat - bindparam("lat")) * bindparam("ky")
    dx = (t.c.lon - bindparam("lon")) * bindparam("kx")
    return dy * dy + dx * dx


_NEARBY = (
    select(t)
    .where(_IN_BAND, t.c.type_code.in_(bindparam("codes", expanding=True)), _RELEVANT)
    .order_by(_flat_distance_squared())
    .limit(CANDIDATES)
)
# The same phone: open however long ago, or ended within the window. Two indexed reads
# rather than one with an OR across tables (which scans).
_OPEN_OR_ENDED = and_(
    t.c.state != int(IncidentState.MERGED),
    or_(t.c.state.in_(_OPEN), t.c.close_time >= bindparam("since")),
)
_FIRST_CALLER_PHONE = (
    select(t)
    .where(t.c.caller_phone_key == bindparam("key"), _OPEN_OR_ENDED)
    .order_by(t.c.update_time.desc())
    .limit(CANDIDATES)
)
_OTHER_CALLER_PHONE = (
    select(t)
    .where(
        t.c.id.in_(
            select(store.callers.c.incident_id).where(store.callers.c.phone_key == bindparam("key"))
        ),
        _OPEN_OR_ENDED,
    )
    .order_by(t.c.update_time.desc())
    .limit(CANDIDATES)
)
_HISTORY = (
    select(t.c.type_code, func.count())
    .where(
        _IN_BAND,
        _flat_distance_squared() <= bindparam("r2"),
        t.c.create_time >= bindparam("since"),
        t.c.state != int(IncidentState.MERGED),
    )
    .group_by(t.c.type_code)
)


def _band_values(point: Point, metres: float) -> dict[str, float]:
    lat0, lat1, lon0, lon1 = _band(point, metres)
    return {
        "lat0": lat0,
        "lat1": lat1,
        "lon0": lon0,
        "lon1": lon1,
        "lat": point.lat,
        "lon": point.lon,
        "ky": _M_PER_DEG_LAT,
        "kx": _M_PER_DEG_LAT * math.cos(math.radians(point.lat)),
        "r2": metres * metres,
    }


async def duplicate_candidates(
    conn: AsyncConnection,
    point: Point | None,
    radius_m: float,
    type_codes: tuple[str, ...],
    phone: str,
    since: datetime,
) -> tuple[list[Incident], frozenset[str]]:
    """Incidents of `type_codes` active since `since` (changed while open, or ended) in a
    box around the point, and any open or recently ended incident a caller of `phone`
    called about; with the ids of the latter."""
    found: dict[str, Incident] = {}
    if point is not None:
        values = {**_band_values(point, radius_m), "codes": list(type_codes), "since": since}
        found = {r.id: store.incident_from_row(r) for r in await conn.execute(_NEARBY, values)}
    same_phone: set[str] = set()
    key = phone_key(phone)
    if key:
        for query in (_FIRST_CALLER_PHONE, _OTHER_CALLER_PHONE):
            for r in await conn.execute(query, {"key": key, "since": since}):
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
    counts: Counter[str] = Counter()
    values = {**_band_values(point, radius_m), "since": since}
    for type_code, n in await conn.execute(_HISTORY, values):
        counts[family_of.get(type_code, "OTHER")] += n
    return tuple(PlaceHistory(f, n, days) for f, n in sorted(counts.items()))


# Cautions

c = store.cautions
_CAUTION_BY_REQUEST = select(c).where(c.c.request_id == bindparam("request_id"))


def _caution_from_row(r: Any) -> Caution:
    return Caution(
        id=r.id,
        kind=CautionKind(r.kind),
        text=r.text,
        location=Location(r.lat, r.lon, r.address, r.ward),
        radius_m=r.radius_m,
        valid_until=as_utc(r.valid_until),
        created_by=store.actor_from(r, "created_by"),
        create_time=as_utc(r.create_time),
    )


_CAUTIONS_NEAR = select(c).where(
    c.c.lat.between(bindparam("lat0"), bindparam("lat1")),
    c.c.lon.between(bindparam("lon0"), bindparam("lon1")),
    c.c.valid_until > bindparam("now"),
)


async def cautions_near(
    conn: AsyncConnection, point: Point, reach_m: float, now: datetime
) -> list[Caution]:
    """Cautions in force whose point lies within `reach_m` (the widest radius a
    caution may have, its slack and the asked radius) of the point."""
    rows = await conn.execute(_CAUTIONS_NEAR, {**_band_values(point, reach_m), "now": now})
    return [_caution_from_row(r) for r in rows]


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
                **store.actor_values("created_by", caution.created_by),
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
                **store.actor_values("taken_by", taken_by),
                "request_id": request_id or None,
            }
        ],
    )


async def incident_of_caller_request(conn: AsyncConnection, request_id: str) -> str | None:
    """The incident a caller was attached to under `request_id`, if one was."""
    row = (await conn.execute(_CALLER_BY_REQUEST, {"request_id": request_id})).first()
    return str(row.incident_id) if row else None
