"""Tables of the dispatch service and the repository over them (SQLAlchemy Core).

Dispatch's own rows are written with statements on the transaction's connection
(not deferred inserts): a later write in the same batch must see them.
"""

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_dispatch.domain.errors import NotFound
from icc_dispatch.domain.model import (
    Actor,
    Agency,
    Assignment,
    AssignmentState,
    IncidentPhase,
    IncidentView,
    Point,
    Priority,
    UnitKind,
)
from icc_storage import inbox_table, insert_if_absent, outbox_table

metadata = MetaData()

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("type_code", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("phase", Integer, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    # The incidents service's version of the incident.
    Column("version", Integer, nullable=False),
    Column("auto", Boolean, nullable=False),
    Column("exercise", Boolean, nullable=False),
    # Units that must not be offered again (escalated away), as a JSON list.
    Column("excluded", Text, nullable=False),
    # Set when the incident may need units: the dispatch loop looks at these.
    Column("attention", Boolean, nullable=False),
    # Auto-dispatched but short of units: looked at again when units free up.
    Column("waiting", Boolean, nullable=False),
    # The unit kinds it waits for, as ",1,6," (see `kinds_text`).
    Column("waiting_for", String(100), nullable=False),
    # The incident version last recommended to a dispatcher (0: never).
    Column("recommended_version", Integer, nullable=False),
    # Bumped by every dispatch decision: two replicas cannot both act on one state.
    Column("rev", Integer, nullable=False),
    # W3C headers (JSON) of the latest news: the dispatch work it causes continues that trace.
    Column("trace_context", Text, nullable=False),
)
Index(
    "ix_incidents_attention", incidents.c.attention, incidents.c.priority, incidents.c.create_time
)
# Only the incidents that wait for units: a freed unit looks there, not at every incident
# of the day.
Index(
    "ix_incidents_waiting",
    incidents.c.priority,
    incidents.c.create_time,
    sqlite_where=incidents.c.waiting.is_(True),
    postgresql_where=incidents.c.waiting.is_(True),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("incident_id", String(32), nullable=False, index=True),
    Column("unit_id", String(64), nullable=False),
    Column("call_sign", String(32), nullable=False),
    Column("agency", Integer, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("role", String(64), nullable=False),
    Column("state", Integer, nullable=False),
    Column("eta_s", Integer, nullable=False),
    Column("request_id", String(64), nullable=False, index=True),
    Column("actor_user", String(200), nullable=False),
    Column("actor_agency", Integer, nullable=False),
    Column("actor_role", String(50), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("assign_time", DateTime(timezone=True)),
    Column("ack_deadline", DateTime(timezone=True)),
    Column("ack_time", DateTime(timezone=True)),
    Column("release_time", DateTime(timezone=True)),
    Column("override_reason", String(500), nullable=False),
    Column("release_reason", String(500), nullable=False),
    Column("release_pending", Boolean, nullable=False),
    Column("vacated", Boolean, nullable=False),
    Column("unit_version", Integer, nullable=False),
)
# A unit is held by at most one active assignment, whatever the code above does.
Index(
    "ux_assignments_active_unit",
    assignments.c.unit_id,
    unique=True,
    sqlite_where=assignments.c.state != int(AssignmentState.RELEASED),
    postgresql_where=assignments.c.state != int(AssignmentState.RELEASED),
)
Index("ix_assignments_state", assignments.c.state, assignments.c.ack_deadline)
Index(
    "ix_assignments_release_pending",
    assignments.c.id,
    sqlite_where=assignments.c.release_pending.is_(True),
    postgresql_where=assignments.c.release_pending.is_(True),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; every stored time is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _now_utc(value: datetime) -> datetime:
    out = _utc(value)
    assert out is not None
    return out


# Incidents


def incident_from(r: Any) -> IncidentView:
    return IncidentView(
        id=r.id,
        type_code=r.type_code,
        priority=Priority(r.priority),
        location=Point(r.lat, r.lon),
        phase=IncidentPhase(r.phase),
        create_time=_now_utc(r.create_time),
        version=r.version,
        auto=r.auto,
        exercise=r.exercise,
    )


def excluded_of(r: Any) -> frozenset[str]:
    return frozenset(json.loads(r.excluded))


async def load_incident_row(conn: AsyncConnection, incident_id: str) -> Any:
    row = await load_incident_or_none(conn, incident_id)
    if row is None:
        raise NotFound(
            f"incidents/{incident_id}", "dispatch has not heard of it (yet); retry in a moment"
        )
    return row


def _planning_fields(view: IncidentView) -> dict[str, Any]:
    return {
        "type_code": view.type_code,
        "priority": int(view.priority),
        "lat": view.location.lat,
        "lon": view.location.lon,
        "phase": int(view.phase),
    }


def news_for_dispatch(row: Any, view: IncidentView) -> bool:
    """Whether an incident event changes anything dispatch plans by.

    Most updates are the incident recording what dispatch did (its assignments);
    they need no write here. Skipping them is safe for ordering: a later relevant
    change is compared with the stored (older) copy, and an older event is
    ignored by its version.
    """
    if row is None:
        return True
    if row.version >= view.version:
        return False
    stored = {k: getattr(row, k) for k in ("type_code", "priority", "lat", "lon", "phase")}
    return stored != _planning_fields(view)


# The statements on the path from incident to units are built once, with their values
# as parameters: building a statement and its cache key on every call cost about as
# much as running it on SQLite (see `save_assignments`).
_LOAD_INCIDENT = select(incidents).where(incidents.c.id == bindparam("incident_id"))


async def load_incident_or_none(conn: AsyncConnection, incident_id: str) -> Any:
    return (await conn.execute(_LOAD_INCIDENT, {"incident_id": incident_id})).first()


def _copied_fields(view: IncidentView, trace_context: str) -> dict[str, Any]:
    return {
        **_planning_fields(view),
        "version": view.version,
        "auto": view.auto,
        "exercise": view.exercise,
        "trace_context": trace_context,
    }


async def upsert_incident(
    conn: AsyncConnection, view: IncidentView, attention: bool, trace_context: str
) -> bool:
    """Stores the newer copy when it matters to dispatch; False when it does not."""
    row = await load_incident_or_none(conn, view.id)
    if not news_for_dispatch(row, view):
        return False
    if row is None:
        return await insert_incident(conn, view, attention, trace_context)
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == view.id)
        .values(
            **_copied_fields(view, trace_context),
            attention=attention or row.attention,
            rev=row.rev + 1,
        )
    )
    return True


async def insert_incident(
    conn: AsyncConnection, view: IncidentView, attention: bool, trace_context: str
) -> bool:
    """Dispatch's first copy of an incident; False when it has one already."""
    result = await conn.execute(
        insert_if_absent(conn.dialect.name, incidents),
        {
            "id": view.id,
            "create_time": view.create_time,
            "excluded": "[]",
            "attention": attention,
            "waiting": False,
            "waiting_for": "",
            "recommended_version": 0,
            "rev": 1,
            **_copied_fields(view, trace_context),
        },
    )
    return bool(result.rowcount == 1)


async def bump(conn: AsyncConnection, incident_id: str, rev: int, **values: Any) -> bool:
    """Conditional on the revision read: False when someone acted on the incident since."""
    result = await conn.execute(
        update(incidents)
        .where(and_(incidents.c.id == incident_id, incidents.c.rev == rev))
        .values(rev=rev + 1, **values)
    )
    return bool(result.rowcount == 1)


def kinds_text(kinds: Iterable[UnitKind]) -> str:
    """`,1,6,`: each kind between commas, so a LIKE '%,6,%' finds one exactly."""
    values = sorted({int(k) for k in kinds})
    return "," + ",".join(str(v) for v in values) + "," if values else ""


async def want_attention(conn: AsyncConnection, incident_id: str) -> None:
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(attention=True, rev=incidents.c.rev + 1)
    )


async def exclude_unit(conn: AsyncConnection, incident_id: str, unit_id: str) -> None:
    """The unit is not offered to the incident again (it was escalated away)."""
    row = await load_incident_row(conn, incident_id)
    excluded = sorted(excluded_of(row) | {unit_id})
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(excluded=json.dumps(excluded), attention=True, rev=row.rev + 1)
    )


def _waiting_for(kind: UnitKind) -> ColumnElement[bool]:
    c = incidents.c
    return and_(
        c.waiting.is_(True),
        c.phase == int(IncidentPhase.OPEN),
        c.waiting_for.contains(f",{int(kind)},"),
    )


async def any_waiting(conn: AsyncConnection, kinds: Iterable[UnitKind]) -> bool:
    """Whether an open incident waits for a unit of one of `kinds`."""
    wanted = tuple(sorted(set(kinds)))
    if not wanted:
        return False
    return (await conn.execute(_any_waiting(wanted))).first() is not None


@functools.cache
def _any_waiting(kinds: tuple[UnitKind, ...]) -> Select[Any]:
    return select(incidents.c.id).where(or_(*(_waiting_for(k) for k in kinds))).limit(1)


async def wake_waiting(conn: AsyncConnection, freed: Mapping[UnitKind, int]) -> int:
    """`n` units of a kind are free: the `n` most urgent incidents waiting for that kind are
    looked at again, not every one of them (under a backlog, re-looking at thousands of
    waiting incidents for one freed unit starved the incidents nobody had looked at)."""
    c = incidents.c
    woken = 0
    for kind, n in freed.items():
        if n <= 0:
            continue
        first = (
            select(c.id)
            .where(_waiting_for(kind))
            .order_by(c.priority, c.create_time, c.id)
            .limit(n)
        )
        result = await conn.execute(
            update(incidents)
            .where(c.id.in_(first))
            .values(attention=True, waiting=False, rev=c.rev + 1)
        )
        woken += int(result.rowcount or 0)
    return woken


_NEEDS_ATTENTION = and_(
    incidents.c.attention.is_(True), incidents.c.phase == int(IncidentPhase.OPEN)
)
_ANY_ATTENTION = select(incidents.c.id).where(_NEEDS_ATTENTION).limit(1)
_MOST_URGENT = (
    select(incidents)
    .where(_NEEDS_ATTENTION)
    .order_by(incidents.c.priority, incidents.c.create_time, incidents.c.id)
    .limit(bindparam("limit"))
)
_MOST_URGENT_SKIPPING = _MOST_URGENT.where(incidents.c.id.notin_(bindparam("skip", expanding=True)))


async def any_attention(conn: AsyncConnection) -> bool:
    """Whether an open incident waits to be looked at (the dispatch loop's queue)."""
    return (await conn.execute(_ANY_ATTENTION)).first() is not None


async def most_urgent(conn: AsyncConnection, skip: Iterable[str], limit: int) -> list[Any]:
    """The open incidents to look at next: most urgent first, then oldest first."""
    skipped = list(skip)
    if skipped:
        return list(await conn.execute(_MOST_URGENT_SKIPPING, {"limit": limit, "skip": skipped}))
    return list(await conn.execute(_MOST_URGENT, {"limit": limit}))


# Assignments


def assignment_from(r: Any) -> Assignment:
    return Assignment(
        id=r.id,
        incident_id=r.incident_id,
        unit_id=r.unit_id,
        call_sign=r.call_sign,
        agency=Agency(r.agency),
        kind=UnitKind(r.kind),
        role=r.role,
        state=AssignmentState(r.state),
        eta_s=r.eta_s,
        request_id=r.request_id,
        assigned_by=Actor(r.actor_user, Agency(r.actor_agency), r.actor_role),
        create_time=_now_utc(r.create_time),
        assign_time=_utc(r.assign_time),
        ack_deadline=_utc(r.ack_deadline),
        ack_time=_utc(r.ack_time),
        release_time=_utc(r.release_time),
        override_reason=r.override_reason,
        release_reason=r.release_reason,
        release_pending=r.release_pending,
        vacated=r.vacated,
        unit_version=r.unit_version,
    )


def _assignment_values(a: Assignment) -> dict[str, Any]:
    return {
        "incident_id": a.incident_id,
        "unit_id": a.unit_id,
        "call_sign": a.call_sign,
        "agency": int(a.agency),
        "kind": int(a.kind),
        "role": a.role,
        "state": int(a.state),
        "eta_s": a.eta_s,
        "request_id": a.request_id,
        "actor_user": a.assigned_by.user,
        "actor_agency": int(a.assigned_by.agency),
        "actor_role": a.assigned_by.role,
        "create_time": a.create_time,
        "assign_time": a.assign_time,
        "ack_deadline": a.ack_deadline,
        "ack_time": a.ack_time,
        "release_time": a.release_time,
        "override_reason": a.override_reason,
        "release_reason": a.release_reason,
        "release_pending": a.release_pending,
        "vacated": a.vacated,
        "unit_version": a.unit_version,
    }


async def insert_assignments(conn: AsyncConnection, items: Iterable[Assignment]) -> None:
    rows = [{"id": a.id, **_assignment_values(a)} for a in items]
    if rows:
        await conn.execute(insert(assignments), rows)


_SAVE_ASSIGNMENT = update(assignments).where(assignments.c.id == bindparam("assignment_id"))


async def save_assignment(conn: AsyncConnection, a: Assignment) -> None:
    await save_assignments(conn, [a])


async def save_assignments(conn: AsyncConnection, items: Sequence[Assignment]) -> None:
    """Several assignments in one statement (on the path from incident to units, each
    statement is a noticeable part of the time). One statement for every call: with
    the values in `.values(...)` instead, building its cache key cost more than the
    UPDATE itself."""
    if items:
        await conn.execute(
            _SAVE_ASSIGNMENT, [{"assignment_id": a.id, **_assignment_values(a)} for a in items]
        )


async def delete_assignments(conn: AsyncConnection, ids: Iterable[str]) -> None:
    ids = list(ids)
    if ids:
        await conn.execute(assignments.delete().where(assignments.c.id.in_(ids)))


_ASSIGNMENTS_OF = (
    select(assignments)
    .where(assignments.c.incident_id == bindparam("incident_id"))
    .order_by(assignments.c.create_time, assignments.c.id)
)
_BY_REQUEST = (
    select(assignments)
    .where(assignments.c.request_id == bindparam("request_id"))
    .order_by(assignments.c.id)
)
_NOT_RELEASED = assignments.c.state != int(AssignmentState.RELEASED)
_HELD_UNITS = select(assignments.c.unit_id).where(
    and_(assignments.c.unit_id.in_(bindparam("unit_ids", expanding=True)), _NOT_RELEASED)
)
_ACTIVE_FOR_UNIT = select(assignments).where(
    and_(assignments.c.unit_id == bindparam("unit_id"), _NOT_RELEASED)
)
_RELEASE_TOLD = (
    update(assignments)
    .where(assignments.c.id.in_(bindparam("assignment_ids", expanding=True)))
    .values(release_pending=False)
)


async def assignments_of(conn: AsyncConnection, incident_id: str) -> list[Assignment]:
    rows = await conn.execute(_ASSIGNMENTS_OF, {"incident_id": incident_id})
    return [assignment_from(r) for r in rows]


async def by_request(conn: AsyncConnection, request_id: str) -> list[Assignment]:
    rows = await conn.execute(_BY_REQUEST, {"request_id": request_id})
    return [assignment_from(r) for r in rows]


async def load_assignment(conn: AsyncConnection, assignment_id: str) -> Assignment:
    row = (await conn.execute(select(assignments).where(assignments.c.id == assignment_id))).first()
    if row is None:
        raise NotFound(f"assignments/{assignment_id}")
    return assignment_from(row)


async def held_units(conn: AsyncConnection, unit_ids: Iterable[str]) -> set[str]:
    """Which of these units an assignment still holds, in one query."""
    rows = await conn.execute(_HELD_UNITS, {"unit_ids": list(unit_ids)})
    return {row.unit_id for row in rows}


async def active_for_unit(conn: AsyncConnection, unit_id: str) -> Assignment | None:
    row = (await conn.execute(_ACTIVE_FOR_UNIT, {"unit_id": unit_id})).first()
    return assignment_from(row) if row else None


async def unfinished(conn: AsyncConnection) -> tuple[list[Assignment], list[Assignment]]:
    """Proposals whose reservation has no answer yet, and releases resources has not heard of."""
    proposed = await conn.execute(
        select(assignments)
        .where(assignments.c.state == int(AssignmentState.PROPOSED))
        .order_by(assignments.c.request_id, assignments.c.id)
    )
    releasing = await conn.execute(
        select(assignments).where(assignments.c.release_pending.is_(True))
    )
    return [assignment_from(r) for r in proposed], [assignment_from(r) for r in releasing]


async def overdue(conn: AsyncConnection, now: datetime, limit: int = 100) -> list[Assignment]:
    rows = await conn.execute(
        select(assignments)
        .where(
            and_(
                assignments.c.state == int(AssignmentState.ASSIGNED),
                assignments.c.ack_deadline <= now,
            )
        )
        .order_by(assignments.c.ack_deadline)
        .limit(limit)
    )
    return [assignment_from(r) for r in rows]


async def release_told(conn: AsyncConnection, assignment_ids: Sequence[str]) -> None:
    """The resources service has freed these units: nothing left to tell it."""
    await conn.execute(_RELEASE_TOLD, {"assignment_ids": list(assignment_ids)})
