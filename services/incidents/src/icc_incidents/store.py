"""Tables of the incidents service and the repository over them (SQLAlchemy Core)."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_incidents.audit import PERSONAL_FIELDS, AuditAction, AuditRecord, changed_fields
from icc_incidents.audit import record as audit_record
from icc_incidents.domain.duplicates import phone_key
from icc_incidents.domain.errors import DuplicateRecord
from icc_incidents.domain.lifecycle import Change
from icc_incidents.domain.model import (
    COLLECTION,
    Assignment,
    Caller,
    ChronologyEntry,
    Incident,
    IncidentFilter,
    KeyAnswer,
    Location,
    Note,
)
from icc_incidents.intake_rows import intake_from, intake_json
from icc_kernel import reasons
from icc_kernel.actors import Actor
from icc_kernel.clock import as_utc, optional_utc
from icc_kernel.errors import ConcurrentChange, NotFound
from icc_kernel.names import name_of
from icc_kernel.reasons import Reason, ReasonCode
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CallLine,
    EtaSource,
    IncidentState,
    Priority,
)
from icc_storage import WriteBatcher, WriteTx, inbox_table, outbox_table
from icc_storage import claim_event as _claim
from icc_storage.batch import Work

T = TypeVar("T")

metadata = MetaData()

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("type_code", String(64), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("state", Integer, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("address", String(500), nullable=False),
    Column("ward", String(100), nullable=False),
    # Bit per agency (1 << agency): filtering by agency is one indexed-free AND.
    Column("agency_mask", Integer, nullable=False),
    Column("agencies", String(64), nullable=False),
    Column("caller_name", String(200), nullable=False),
    Column("caller_phone", String(32), nullable=False),
    Column("caller_language", String(35), nullable=False),
    Column("description", Text, nullable=False),
    Column("exercise", Boolean, nullable=False),
    Column("created_by_user", String(200), nullable=False),
    Column("created_by_agency", Integer, nullable=False),
    Column("created_by_role", String(64), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("first_dispatch_time", DateTime(timezone=True)),
    Column("first_on_scene_time", DateTime(timezone=True)),
    Column("close_time", DateTime(timezone=True)),
    Column("merged_into", String(64)),
    Column("resolution", Text, nullable=False),
    Column("assignments", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("request_id", String(64), unique=True),
    Column("call_line", Integer, nullable=False),
    # The first caller's phone as duplicates compare it (`duplicates.phone_key`).
    Column("caller_phone_key", String(32), nullable=False),
    Column("caller_count", Integer, nullable=False),
    Column("answers", Text, nullable=False),
    Column("instructions", Text, nullable=False),
    # What intake found (possible duplicates, cautions, history), as JSON.
    Column("intake", Text, nullable=False),
)
Index("ix_incidents_create_time", incidents.c.create_time, incidents.c.id)
Index("ix_incidents_state", incidents.c.state)
# Reads near a point (duplicates, history) take a band of latitude, then filter.
Index("ix_incidents_lat", incidents.c.lat)
# A phone's incidents, the latest first (intake reads a few of them at every call).
Index("ix_incidents_caller_phone_key", incidents.c.caller_phone_key, incidents.c.update_time)
# An EIDO document names the incidents merged into the one it describes.
Index("ix_incidents_merged_into", incidents.c.merged_into)

# Further callers about an incident's event (personal data, like the first caller).
callers = Table(
    "callers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("phone", String(32), nullable=False),
    Column("phone_key", String(32), nullable=False, index=True),
    Column("language", String(35), nullable=False),
    Column("call_line", Integer, nullable=False),
    Column("call_time", DateTime(timezone=True), nullable=False),
    Column("taken_by_user", String(200), nullable=False),
    Column("taken_by_agency", Integer, nullable=False),
    Column("taken_by_role", String(64), nullable=False),
    Column("request_id", String(64), unique=True),
)

cautions = Table(
    "cautions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("lat", Float, nullable=False, index=True),
    Column("lon", Float, nullable=False),
    Column("address", String(500), nullable=False),
    Column("ward", String(100), nullable=False),
    Column("radius_m", Float, nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("created_by_user", String(200), nullable=False),
    Column("created_by_agency", Integer, nullable=False),
    Column("created_by_role", String(64), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("request_id", String(64), unique=True),
)

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("author_user", String(200), nullable=False),
    Column("author_agency", Integer, nullable=False),
    Column("author_role", String(64), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

# Append-only: this module has no update or delete of chronology rows.
chronology = Table(
    "chronology",
    metadata,
    Column("incident_id", String(32), ForeignKey("incidents.id"), primary_key=True),
    Column("sequence", Integer, primary_key=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("actor_user", String(200), nullable=False),
    Column("actor_agency", Integer, nullable=False),
    Column("actor_role", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    # `coded` in English, as older clients read it.
    Column("detail", Text, nullable=False),
    # What happened as reasons (`icc_kernel.reasons.to_json`); "" in entries made before.
    Column("coded", Text, nullable=False),
)

# Calls transferred in as EIDO documents: the sender's incident (the document's id) and the
# incident ICC made of it, so a document sent again updates that incident.
eido_links = Table(
    "eido_links",
    metadata,
    Column("document_id", String(300), primary_key=True),
    Column("incident_id", String(32), ForeignKey("incidents.id"), nullable=False, index=True),
    Column("sender_agency", String(300), nullable=False),
    Column("sender_internal_id", String(300), nullable=False),
    # The document's lastUpdateTimeStamp: an older or equal one changes nothing.
    Column("last_update", DateTime(timezone=True), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)

# The audit of personal data (`icc_incidents.audit`): append-only, here and in the
# database (migration 0005 refuses UPDATE and DELETE of its rows).
audit = Table(
    "audit",
    metadata,
    Column("sequence", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("action", String(16), nullable=False),
    Column("rpc", String(64), nullable=False),
    # Field names, comma-separated; never their values.
    Column("fields", String(500), nullable=False),
    Column("caller", String(200), nullable=False),
    Column("person", String(200), nullable=False),
    Column("agency", Integer, nullable=False),
    Column("role", String(64), nullable=False),
    Index("ix_audit_incident", "incident_id", "sequence"),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


def _mask(agencies: tuple[Agency, ...]) -> int:
    mask = 0
    for a in agencies:
        mask |= 1 << int(a)
    return mask


def _assignments_json(items: tuple[Assignment, ...]) -> str:
    return json.dumps(
        [
            {
                "name": a.name,
                "unit": a.unit,
                "call_sign": a.call_sign,
                "agency": int(a.agency),
                "state": int(a.state),
                "assign_time": a.assign_time.isoformat() if a.assign_time else None,
                "release_time": a.release_time.isoformat() if a.release_time else None,
                "eta_s": a.eta_s,
                "distance_m": a.distance_m,
                "eta_source": int(a.eta_source) if a.eta_source else 0,
            }
            for a in items
        ]
    )


def _assignments_from(text: str) -> tuple[Assignment, ...]:
    return tuple(
        Assignment(
            name=a["name"],
            unit=a["unit"],
            call_sign=a["call_sign"],
            agency=Agency(a["agency"]),
            state=AssignmentState(a["state"]),
            assign_time=datetime.fromisoformat(a["assign_time"]) if a["assign_time"] else None,
            release_time=datetime.fromisoformat(a["release_time"]) if a["release_time"] else None,
            # (Absent from assignments stored before trips were kept.)
            eta_s=a.get("eta_s", 0),
            distance_m=a.get("distance_m", 0),
            eta_source=EtaSource(a["eta_source"]) if a.get("eta_source") else None,
        )
        for a in json.loads(text)
    )


def _row_values(i: Incident) -> dict[str, Any]:
    return {
        "type_code": i.type_code,
        "priority": int(i.priority),
        "state": int(i.state),
        "lat": i.location.lat,
        "lon": i.location.lon,
        "address": i.location.address,
        "ward": i.location.ward,
        # Every agency involved (assigned units' too): what a partner may read.
        "agency_mask": _mask(tuple(i.involved)),
        "agencies": ",".join(str(int(a)) for a in i.agencies),
        "caller_name": i.caller.name,
        "caller_phone": i.caller.phone,
        "caller_language": i.caller.language,
        "description": i.description,
        "exercise": i.exercise,
        "update_time": i.update_time,
        "first_dispatch_time": i.first_dispatch_time,
        "first_on_scene_time": i.first_on_scene_time,
        "close_time": i.close_time,
        "merged_into": i.merged_into,
        "resolution": i.resolution,
        "assignments": _assignments_json(i.assignments),
        "version": i.version,
        "call_line": int(i.call_line),
        "caller_phone_key": phone_key(i.caller.phone),
        "caller_count": i.caller_count,
        "answers": json.dumps([[a.question, a.answer] for a in i.answers]),
        "instructions": json.dumps(list(i.instructions)),
        "intake": intake_json(i),
    }


def incident_from_row(
    r: Any, notes_: tuple[Note, ...] = (), more_callers: tuple[Caller, ...] = ()
) -> Incident:
    line = CallLine(r.call_line)
    create_time = as_utc(r.create_time)
    found = intake_from(r.intake)
    return Incident(
        id=r.id,
        type_code=r.type_code,
        priority=Priority(r.priority),
        state=IncidentState(r.state),
        location=Location(r.lat, r.lon, r.address, r.ward),
        agencies=tuple(Agency(int(a)) for a in r.agencies.split(",") if a),
        caller=Caller(r.caller_name, r.caller_phone, r.caller_language, create_time, line),
        description=r.description,
        exercise=bool(r.exercise),
        created_by=Actor(r.created_by_user, Agency(r.created_by_agency), r.created_by_role),
        create_time=create_time,
        update_time=as_utc(r.update_time),
        version=r.version,
        first_dispatch_time=optional_utc(r.first_dispatch_time),
        first_on_scene_time=optional_utc(r.first_on_scene_time),
        close_time=optional_utc(r.close_time),
        merged_into=r.merged_into,
        resolution=r.resolution,
        assignments=_assignments_from(r.assignments),
        notes=notes_,
        call_line=line,
        possible_duplicates=found.possible_duplicates,
        cautions=found.cautions,
        history=found.history,
        answers=tuple(KeyAnswer(q, a) for q, a in json.loads(r.answers)),
        instructions=tuple(json.loads(r.instructions)),
        additional_callers=more_callers,
        caller_count=r.caller_count,
    )


def insert_incident(tx: WriteTx, incident: Incident, request_id: str | None) -> None:
    values = _row_values(incident)
    values.update(
        id=incident.id,
        create_time=incident.create_time,
        created_by_user=incident.created_by.user,
        created_by_agency=int(incident.created_by.agency),
        created_by_role=incident.created_by.role,
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
        {"b_id": incident.id, "b_expected": expected, **_row_values(incident)},
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
                Actor(n.author_user, Agency(n.author_agency), n.author_role),
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
    result = await conn.execute(
        _INSERT_NOTE,
        {
            "incident_id": incident_id,
            "text": text,
            "author_user": author.user,
            "author_agency": int(author.agency),
            "author_role": author.role,
            "create_time": now,
        },
    )
    key = result.inserted_primary_key
    assert key is not None
    return Note(int(key[0]), text, author, now)


def append_chronology(tx: WriteTx, entry: ChronologyEntry) -> None:
    tx.add(
        chronology,
        [
            {
                "incident_id": entry.incident_id,
                "sequence": entry.sequence,
                "time": entry.time,
                "actor_user": entry.actor.user,
                "actor_agency": int(entry.actor.agency),
                "actor_role": entry.actor.role,
                "action": entry.action,
                "detail": entry.detail,
                "coded": reasons.to_json(entry.reasons),
            }
        ],
    )


def append_change(tx: WriteTx, change: Change, actor: Actor, rpc: str) -> None:
    """A change's chronology entry and its audit record, in the change's transaction."""
    append_chronology(tx, change.entry(actor))
    i = change.incident
    append_audit(
        tx,
        [audit_record(i.id, AuditAction.CHANGE, rpc, changed_fields(change), actor, i.update_time)],
    )


def append_audit(tx: WriteTx, records: Sequence[AuditRecord]) -> None:
    tx.add(
        audit,
        [
            {
                "incident_id": r.incident_id,
                "time": r.time,
                "action": str(r.action),
                "rpc": r.rpc,
                "fields": ",".join(r.fields),
                "caller": r.caller,
                "person": r.person,
                "agency": int(r.agency),
                "role": r.role,
            }
            for r in records
        ],
    )


async def list_audit(
    conn: AsyncConnection, incident_id: str, limit: int, after: int
) -> list[AuditRecord]:
    """Oldest first, from the record after sequence number `after`."""
    a = audit
    rows = (
        await conn.execute(
            select(a)
            .where(a.c.incident_id == incident_id, a.c.sequence > after)
            .order_by(a.c.sequence)
            .limit(limit)
        )
    ).all()
    return [
        AuditRecord(
            r.incident_id,
            as_utc(r.time),
            AuditAction(r.action),
            r.rpc,
            tuple(f for f in r.fields.split(",") if f),
            r.caller,
            r.person,
            Agency(r.agency),
            r.role,
            r.sequence,
        )
        for r in rows
    ]


# Ended incidents: their personal data may go once the retention period has passed.
_ENDED = (int(IncidentState.CLOSED), int(IncidentState.CANCELLED), int(IncidentState.MERGED))


async def ended_with_personal_data(
    conn: AsyncConnection, ended_before: datetime, limit: int
) -> list[tuple[str, tuple[str, ...]]]:
    """Incidents that ended before `ended_before` and still hold personal data, with
    the personal fields each holds, oldest first."""
    t = incidents
    has_notes = select(notes.c.id).where(notes.c.incident_id == t.c.id, notes.c.text != "")
    has_callers = select(callers.c.id).where(
        callers.c.incident_id == t.c.id, or_(callers.c.name != "", callers.c.phone != "")
    )
    rows = (
        await conn.execute(
            select(
                t.c.id,
                or_(t.c.caller_name != "", t.c.caller_phone != "").label("caller"),
                has_callers.exists().label("additional_callers"),
                has_notes.exists().label("notes"),
                (t.c.answers != "[]").label("answers"),
            )
            .where(
                t.c.state.in_(_ENDED),
                t.c.close_time.is_not(None),
                t.c.close_time < ended_before,
                or_(
                    t.c.caller_name != "",
                    t.c.caller_phone != "",
                    t.c.answers != "[]",
                    has_notes.exists(),
                    has_callers.exists(),
                ),
            )
            .order_by(t.c.close_time, t.c.id)
            .limit(limit)
        )
    ).all()
    return [(r.id, tuple(f for f in PERSONAL_FIELDS if getattr(r, f))) for r in rows]


async def erase_personal_data(conn: AsyncConnection, incident_ids: Sequence[str]) -> None:
    """Callers' names and phones, note texts and answers to key questions of these
    incidents emptied; everything else (type, priority, place, times, units, the
    chronology's coded facts) stays."""
    if not incident_ids:
        return
    ids = list(incident_ids)
    await conn.execute(
        update(incidents)
        .where(incidents.c.id.in_(ids))
        .values(caller_name="", caller_phone="", caller_phone_key="", answers="[]")
    )
    await conn.execute(
        update(callers)
        .where(callers.c.incident_id.in_(ids))
        .values(name="", phone="", phone_key="")
    )
    await conn.execute(update(notes).where(notes.c.incident_id.in_(ids)).values(text=""))


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


async def list_chronology(
    conn: AsyncConnection, incident_id: str, limit: int, after: int
) -> list[ChronologyEntry]:
    """Oldest first, from the entry after sequence number `after`."""
    c = chronology
    rows = (
        await conn.execute(
            select(c)
            .where(c.c.incident_id == incident_id, c.c.sequence > after)
            .order_by(c.c.sequence)
            .limit(limit)
        )
    ).all()
    return [
        ChronologyEntry(
            r.incident_id,
            r.sequence,
            as_utc(r.time),
            Actor(r.actor_user, Agency(r.actor_agency), r.actor_role),
            r.action,
            reasons.from_json(r.coded) or (Reason.of(ReasonCode.TEXT, text=r.detail),),
        )
        for r in rows
    ]


# EIDO transfers


async def find_link(conn: AsyncConnection, document_id: str) -> tuple[str, datetime] | None:
    """(incident id, last update imported) of a document seen before."""
    row = (
        await conn.execute(
            select(eido_links.c.incident_id, eido_links.c.last_update).where(
                eido_links.c.document_id == document_id
            )
        )
    ).first()
    return (row.incident_id, as_utc(row.last_update)) if row else None


async def links_of(conn: AsyncConnection, incident_id: str) -> list[tuple[str, str, str]]:
    """(document id, sender agency, sender's internal id) of the calls transferred into it."""
    rows = await conn.execute(
        select(eido_links)
        .where(eido_links.c.incident_id == incident_id)
        .order_by(eido_links.c.create_time, eido_links.c.document_id)
    )
    return [(r.document_id, r.sender_agency, r.sender_internal_id) for r in rows]


async def touch_link(conn: AsyncConnection, document_id: str, last_update: datetime) -> None:
    await conn.execute(
        update(eido_links)
        .where(eido_links.c.document_id == document_id)
        .values(last_update=last_update)
    )


async def absorbed_into(conn: AsyncConnection, name: str) -> list[str]:
    """Ids of the incidents merged into the incident `name`."""
    rows = await conn.execute(
        select(incidents.c.id).where(incidents.c.merged_into == name).order_by(incidents.c.id)
    )
    return [r.id for r in rows]


def add_notes(
    tx: WriteTx, incident_id: str, texts: tuple[str, ...], author: Actor, now: datetime
) -> None:
    """Notes written with the incident (a transferred call's), inserted with the batch."""
    tx.add(
        notes,
        [
            {
                "incident_id": incident_id,
                "text": text,
                "author_user": author.user,
                "author_agency": int(author.agency),
                "author_role": author.role,
                "create_time": now,
            }
            for text in texts
        ],
    )


def add_link(
    tx: WriteTx,
    *,
    document_id: str,
    incident_id: str,
    sender_agency: str,
    sender_internal_id: str,
    last_update: datetime,
    now: datetime,
) -> None:
    tx.add(
        eido_links,
        [
            {
                "document_id": document_id,
                "incident_id": incident_id,
                "sender_agency": sender_agency,
                "sender_internal_id": sender_internal_id,
                "last_update": last_update,
                "create_time": now,
            }
        ],
    )
