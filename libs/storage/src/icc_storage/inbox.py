"""The consumer inbox: event ids recorded in the same transaction as their effect."""

import functools
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Executable, MetaData, String, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection


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
    neither does. ON CONFLICT DO NOTHING keeps a PostgreSQL transaction usable.
    """
    result = await conn.execute(
        _claim(conn.dialect.name, table),
        {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)},
    )
    return bool(result.rowcount == 1)


@functools.cache
def _claim(dialect: str, table: Table) -> Executable:
    # Built once: building the statement and its cache key on every event cost more
    # than running it (see the services' stores).
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing()
