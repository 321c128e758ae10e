"""Dispatch's records in SQL (SQLAlchemy Core): its copies of incidents (a `Case` each)
and its assignments, read and written on a transaction's connection. The tables are in
`icc_dispatch.tables`; `icc_dispatch.records` offers these to the use cases.

Dispatch's own rows are written with statements on the transaction's connection
(not deferred inserts): a later write in the same batch must see them.
"""

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_dispatch.domain.case import Case, is_news
from icc_dispatch.domain.errors import NotFound
from icc_dispatch.domain.model import (
    Assignment,
    AssignmentState,
    IncidentPhase,
    IncidentView,
    UnitKind,
)
from icc_dispatch.rows import (
    assignment_from,
    assignment_values,
    case_from,
    copied_fields,
    incident_from,
    kinds_text,
)
from icc_dispatch.tables import assignments, inbox, incidents, metadata, outbox
from icc_kernel.names import name_of
from icc_storage import insert_if_absent

__all__ = ["assignments", "inbox", "incidents", "kinds_text", "metadata", "outbox"]


# Incidents


async def load_incident_row(conn: AsyncConnection, incident_id: str) -> Any:
    row = await load_incident_or_none(conn, incident_id)
    if row is None:
        raise NotFound(
            name_of("incidents", incident_id),
            "dispatch has not heard of it (yet); retry in a moment",
        )
    return row


async def load_case(conn: AsyncConnection, incident_id: str) -> Case:
    """NotFound when dispatch has not heard of the incident."""
    return case_from(await load_incident_row(conn, incident_id))


async def load_case_or_none(conn: AsyncConnection, incident_id: str) -> Case | None:
    row = await load_incident_or_none(conn, incident_id)
    return case_from(row) if row is not None else None


# The statements on the path from incident to units are built once, with their values
# as parameters: building a statement and its cache key on every call cost about as
# much as running it on SQLite (see `save_assignments`).
_LOAD_INCIDENT = select(incidents).where(incidents.c.id == bindparam("incident_id"))


async def load_incident_or_none(conn: AsyncConnection, incident_id: str) -> Any:
    return (await conn.execute(_LOAD_INCIDENT, {"incident_id": incident_id})).first()


async def upsert_incident(
    conn: AsyncConnection, view: IncidentView, attention: bool, trace_context: str
) -> bool:
    """Stores the newer copy when it matters to dispatch; False when it does not."""
    row = await load_incident_or_none(conn, view.id)
    if not is_news(incident_from(row) if row is not None else None, view):
        return False
    if row is None:
        return await insert_incident(conn, view, attention, trace_context)
    # Only over an older copy: replicas take an incident's events side by side, and on
    # PostgreSQL the one that commits last would otherwise win, newer or not. The
    # condition is read again once a concurrent writer's lock is released.
    result = await conn.execute(
        update(incidents)
        .where(incidents.c.id == view.id, incidents.c.version < view.version)
        .values(
            **copied_fields(view, trace_context),
            attention=attention or row.attention,
            rev=row.rev + 1,
        )
    )
    return bool(result.rowcount == 1)


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
            **copied_fields(view, trace_context),
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


# The decisions of the dispatch loop, conditional on the revision read (as `bump`).
_TAKE = (
    update(incidents)
    .where(and_(incidents.c.id == bindparam("incident_id"), incidents.c.rev == bindparam("rev")))
    .values(rev=incidents.c.rev + 1)
)
_TAKE_SETTLED = _TAKE.values(attention=False, waiting=False, waiting_for="")
_SETTLE = _TAKE.values(
    attention=bindparam("attention"),
    waiting=bindparam("waiting"),
    waiting_for=bindparam("waiting_for"),
    recommended_version=bindparam("recommended_version"),
)


async def take(conn: AsyncConnection, case: Case, *, settled: bool) -> bool:
    """A decision on the case (`settled`: it needs nothing more for now); False when
    someone acted on it since it was read."""
    statement = _TAKE_SETTLED if settled else _TAKE
    result = await conn.execute(statement, {"incident_id": case.id, "rev": case.rev})
    return bool(result.rowcount == 1)


async def settle(conn: AsyncConnection, before: Case, after: Case) -> bool:
    """`after`'s dispatch state; False when someone acted on the case since `before`."""
    result = await conn.execute(
        _SETTLE,
        {
            "incident_id": before.id,
            "rev": before.rev,
            "attention": after.attention,
            "waiting": after.waiting,
            "waiting_for": kinds_text(after.waiting_for),
            "recommended_version": after.recommended_version,
        },
    )
    return bool(result.rowcount == 1)


async def want_attention(conn: AsyncConnection, incident_id: str) -> None:
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(attention=True, rev=incidents.c.rev + 1)
    )


async def exclude_unit(conn: AsyncConnection, incident_id: str, unit_id: str) -> None:
    """The unit is not offered to the incident again (it was escalated away)."""
    row = await load_incident_row(conn, incident_id)
    excluded = sorted(set(json.loads(row.excluded)) | {unit_id})
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


async def insert_assignments(conn: AsyncConnection, items: Iterable[Assignment]) -> None:
    rows = [{"id": a.id, **assignment_values(a)} for a in items]
    if rows:
        await conn.execute(insert(assignments), rows)


_SAVE_ASSIGNMENT = update(assignments).where(assignments.c.id == bindparam("assignment_id"))


async def save_assignments(conn: AsyncConnection, items: Sequence[Assignment]) -> None:
    """Several assignments in one statement (on the path from incident to units, each
    statement is a noticeable part of the time). One statement for every call: with
    the values in `.values(...)` instead, building its cache key cost more than the
    UPDATE itself."""
    if items:
        await conn.execute(
            _SAVE_ASSIGNMENT, [{"assignment_id": a.id, **assignment_values(a)} for a in items]
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


# PostgreSQL locks the rows (SQLite has one writer at a time: nothing to lock).
_BY_REQUEST_LOCKED = _BY_REQUEST.with_for_update()


async def by_request(
    conn: AsyncConnection, request_id: str, *, lock: bool = False
) -> list[Assignment]:
    """A request's assignments; `lock`: locked until the transaction ends."""
    statement = _BY_REQUEST_LOCKED if lock else _BY_REQUEST
    rows = await conn.execute(statement, {"request_id": request_id})
    return [assignment_from(r) for r in rows]


async def load_assignment(conn: AsyncConnection, assignment_id: str) -> Assignment:
    row = (await conn.execute(select(assignments).where(assignments.c.id == assignment_id))).first()
    if row is None:
        raise NotFound(name_of("assignments", assignment_id))
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
