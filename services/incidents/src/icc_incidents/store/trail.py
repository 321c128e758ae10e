"""The append-only records of an incident: its chronology and the audit of its personal
data, each appended in the write that made the change and listed oldest first."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_incidents.audit import AuditAction, AuditRecord, changed_fields
from icc_incidents.audit import record as audit_record
from icc_incidents.domain.lifecycle import Change
from icc_incidents.domain.model import ChronologyEntry
from icc_incidents.store.rows import actor_from, actor_values
from icc_incidents.store.tables import audit, chronology
from icc_kernel import reasons
from icc_kernel.actors import Actor
from icc_kernel.clock import as_utc
from icc_kernel.reasons import Reason, ReasonCode
from icc_kernel.vocabulary import Agency
from icc_storage import WriteTx


def append_chronology(tx: WriteTx, entry: ChronologyEntry) -> None:
    tx.add(
        chronology,
        [
            {
                "incident_id": entry.incident_id,
                "sequence": entry.sequence,
                "time": entry.time,
                **actor_values("actor", entry.actor),
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
        for r in await _after(conn, audit, incident_id, limit, after)
    ]


async def list_chronology(
    conn: AsyncConnection, incident_id: str, limit: int, after: int
) -> list[ChronologyEntry]:
    """Oldest first, from the entry after sequence number `after`."""
    return [
        ChronologyEntry(
            r.incident_id,
            r.sequence,
            as_utc(r.time),
            actor_from(r, "actor"),
            r.action,
            reasons.from_json(r.coded) or (Reason.of(ReasonCode.TEXT, text=r.detail),),
        )
        for r in await _after(conn, chronology, incident_id, limit, after)
    ]


async def _after(
    conn: AsyncConnection, table: Table, incident_id: str, limit: int, after: int
) -> Sequence[Row[Any]]:
    """Up to `limit` of an incident's rows in `table` (chronology, audit), oldest first,
    from the one after sequence number `after`."""
    t = table.c
    query = (
        select(table)
        .where(t.incident_id == incident_id, t.sequence > after)
        .order_by(t.sequence)
        .limit(limit)
    )
    return (await conn.execute(query)).all()
