"""The consumer inbox: event ids recorded in the same transaction as their effect."""

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_storage.inserts import insert_if_absent


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(200), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )


async def claim_event(conn: AsyncConnection, table: Table, consumer: str, event_id: str) -> bool:
    """Record the event as processed; False when it already was (do nothing then).

    Call inside the transaction that applies the event's effect: both commit or
    neither does.
    """
    result = await conn.execute(
        insert_if_absent(conn.dialect.name, table),
        {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)},
    )
    return bool(result.rowcount == 1)
