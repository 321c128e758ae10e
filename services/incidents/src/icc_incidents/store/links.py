"""Calls transferred in as EIDO documents: the link from a sender's document to the
incident ICC made of it, and the incidents merged into one (its document names them)."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_incidents.store.tables import eido_links, incidents
from icc_kernel.clock import as_utc
from icc_storage import WriteTx


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
