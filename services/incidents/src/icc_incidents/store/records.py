"""Incidents with their notes and further callers: inserted, saved under a version check,
loaded and listed; the inbox's claim of an event, in the write that applies it."""

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_incidents.domain.errors import DuplicateRecord
from icc_incidents.domain.model import COLLECTION, Caller, Incident, IncidentFilter, Note
from icc_incidents.store.rows import actor_from, actor_values, incident_from_row, row_values
from icc_incidents.store.tables import callers, inbox, incidents, notes
from icc_kernel.actors import Actor
from icc_kernel.clock import as_utc
from icc_kernel.errors import ConcurrentChange, NotFound
from icc_kernel.names import name_of
from icc_kernel.vocabulary import CallLine
from icc_storage import WriteBatcher, WriteTx
from icc_storage import claim_event as _claim
from icc_storage.batch import Work

T = TypeVar("T")


def insert_incident(tx: WriteTx, incident: Incident, request_id: str | None) -> None:
    values = row_values(incident)
    values.update(
        id=incident.id,
        create_time=incident.create_time,
        **actor_values("created_by", incident.created_by),
        request_id=request_id or None,
    )
    tx.add(incidents, [values])


# One statement for every save, the values as parameters: building an UPDATE with its
# values in `.values(...)` and its cache key on each call cost more than the UPDATE.
_SAVE_INCIDENT = update(incidents).where(
    incidents.c.id == bindparam("b_id"), incidents.c.version == bindparam("b_expected")
)


async def save_incident(
    conn: AsyncConnection, incident: Incident, *, expected_version: int | None = None
) -> None:
    """Write a changed incident; the version check guards against a concurrent writer."""
    expected = incident.version - 1 if expected_version is None else expected_version
    result = await conn.execute(
        _SAVE_INCIDENT,
        {"b_id": incident.id, "b_expected": expected, **row_values(incident)},
    )
    if result.rowcount != 1:
        raise ConcurrentChange(f"{incident.name} was changed concurrently; read it again and retry")


async def submit_insert(batcher: WriteBatcher, work: Work[T]) -> T:
    """`batcher.submit(work)` for a write that inserts an incident: a unique key that
    another writer took first (a request id, through another replica) is DuplicateRecord."""
    try:
        return await batcher.submit(work)
    except IntegrityError as exc:
        raise DuplicateRecord(
            "the same request was recorded at the same moment elsewhere; retry it"
        ) from exc


async def claim_event(tx: WriteTx, consumer: str, event_id: str) -> bool:
    """Whether `consumer` sees the event for the first time (the inbox records it)."""
    return await _claim(tx.conn, inbox, consumer, event_id)


# Built once, values as parameters (see `_SAVE_INCIDENT`): every new call is a lookup
# by request id, every dispatch event a load.
_BY_REQUEST_ID = select(incidents).where(incidents.c.request_id == bindparam("request_id"))
_LOAD = select(incidents).where(incidents.c.id == bindparam("incident_id"))
_NOTES = select(notes).where(notes.c.incident_id == bindparam("incident_id")).order_by(notes.c.id)
_INSERT_NOTE = insert(notes)
_CALLERS = (
    select(callers).where(callers.c.incident_id == bindparam("incident_id")).order_by(callers.c.id)
)


async def find_by_request_id(conn: AsyncConnection, request_id: str) -> Incident | None:
    row = (await conn.execute(_BY_REQUEST_ID, {"request_id": request_id})).first()
    return incident_from_row(row) if row else None


async def load(conn: AsyncConnection, incident_id: str, *, with_notes: bool = False) -> Incident:
    """The incident; `with_notes`: its notes and further callers too (personal data)."""
    row = (await conn.execute(_LOAD, {"incident_id": incident_id})).first()
    if row is None:
        raise NotFound(name_of(COLLECTION, incident_id))
    found: tuple[Note, ...] = ()
    more: tuple[Caller, ...] = ()
    if with_notes:
        rows = await conn.execute(_NOTES, {"incident_id": incident_id})
        found = tuple(
            Note(
                n.id,
                n.text,
                actor_from(n, "author"),
                as_utc(n.create_time),
            )
            for n in rows
        )
        more = tuple(
            Caller(c.name, c.phone, c.language, as_utc(c.call_time), CallLine(c.call_line))
            for c in await conn.execute(_CALLERS, {"incident_id": incident_id})
        )
    return incident_from_row(row, found, more)


async def insert_note(
    conn: AsyncConnection, incident_id: str, text: str, author: Actor, now: datetime
) -> Note:
    result = await conn.execute(_INSERT_NOTE, _note_row(incident_id, text, author, now))
    key = result.inserted_primary_key
    assert key is not None
    return Note(int(key[0]), text, author, now)


# Paging: each listing reads one row more than a page, which says whether another follows;
# the gRPC edge turns where a page ended into the token for the next.


async def list_incidents(
    conn: AsyncConnection, flt: IncidentFilter, limit: int, after: tuple[datetime, str] | None
) -> list[Incident]:
    """Newest first; `after`: the creation time and id of the previous page's last one."""
    t = incidents
    query = select(t)
    if flt.states:
        query = query.where(t.c.state.in_([int(s) for s in flt.states]))
    if flt.agency is not None:
        query = query.where(t.c.agency_mask.op("&")(1 << int(flt.agency)) != 0)
    if flt.involving is not None:
        query = query.where(t.c.agency_mask.op("&")(1 << int(flt.involving)) != 0)
    if not flt.drills:
        query = query.where(t.c.exercise.is_(False))
    if flt.priorities:
        query = query.where(t.c.priority.in_([int(p) for p in flt.priorities]))
    if flt.created_after is not None:
        query = query.where(t.c.create_time >= flt.created_after)
    if flt.created_before is not None:
        query = query.where(t.c.create_time < flt.created_before)
    if after is not None:
        last_time, last_id = after
        query = query.where(
            or_(t.c.create_time < last_time, and_(t.c.create_time == last_time, t.c.id < last_id))
        )
    rows = (
        await conn.execute(query.order_by(t.c.create_time.desc(), t.c.id.desc()).limit(limit))
    ).all()
    return [incident_from_row(r) for r in rows]


def add_notes(
    tx: WriteTx, incident_id: str, texts: tuple[str, ...], author: Actor, now: datetime
) -> None:
    """Notes written with the incident (a transferred call's), inserted with the batch."""
    tx.add(notes, [_note_row(incident_id, text, author, now) for text in texts])


def _note_row(incident_id: str, text: str, author: Actor, now: datetime) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "text": text,
        **actor_values("author", author),
        "create_time": now,
    }
