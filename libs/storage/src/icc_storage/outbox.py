"""The transactional outbox and its relay.

A state change and its events commit in one transaction (`add_events`). The
relay publishes unsent rows in id order and then marks them sent. A crash
between commit and publish loses nothing (the row stays unsent); a crash
between publish and mark re-publishes with the same `Nats-Msg-Id`, which
JetStream's duplicate window drops.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext
from opentelemetry import context as otel_context
from opentelemetry import metrics
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_bus import OutgoingEvent, publish_event
from icc_storage.database import Database
from icc_telemetry import extract

log = logging.getLogger(__name__)
_meter = metrics.get_meter("icc_storage")
_published = _meter.create_counter("icc.outbox.published", description="Outbox events published")


def outbox_table(metadata: MetaData) -> Table:
    table = Table(
        "outbox",
        metadata,
        Column(
            "id",
            BigInteger().with_variant(Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        Column("event_id", String(100), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True),
    )
    Index(
        "ix_outbox_unsent",
        table.c.id,
        sqlite_where=table.c.sent_at.is_(None),
        postgresql_where=table.c.sent_at.is_(None),
    )
    return table


async def add_events(conn: AsyncConnection, table: Table, events: Sequence[OutgoingEvent]) -> None:
    """Stage events in the caller's transaction (one batched insert)."""
    if not events:
        return
    now = datetime.now(UTC)
    await conn.execute(
        insert(table),
        [
            {
                "event_id": e.event_id,
                "subject": e.subject,
                "event_type": e.event_type,
                "payload": e.payload,
                "headers": json.dumps(dict(e.headers)),
                "created_at": now,
                "sent_at": None,
            }
            for e in events
        ],
    )


class OutboxRelay:
    """Publishes committed outbox rows; `notify()` after a commit wakes it at once."""

    def __init__(
        self,
        db: Database,
        table: Table,
        js: JetStreamContext,
        *,
        batch: int = 500,
        poll_interval_s: float = 0.5,
        retention: timedelta = timedelta(days=1),
    ) -> None:
        self._db = db
        self._table = table
        self._js = js
        self._batch = batch
        self._poll = poll_interval_s
        self._retention = retention
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def backlog(self) -> int:
        from sqlalchemy import func

        async with self._db.read() as conn:
            n = await conn.scalar(
                select(func.count()).select_from(self._table).where(self._table.c.sent_at.is_(None))
            )
        return int(n or 0)

    async def _run(self) -> None:
        last_cleanup = datetime.now(UTC)
        while True:
            try:
                sent = await self.publish_pending()
                if datetime.now(UTC) - last_cleanup > timedelta(minutes=10):
                    await self._cleanup()
                    last_cleanup = datetime.now(UTC)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(1.0)
                continue
            if sent < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
                self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; returns how many were published."""
        t = self._table
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    select(
                        t.c.id, t.c.event_id, t.c.subject, t.c.event_type, t.c.payload, t.c.headers
                    )
                    .where(t.c.sent_at.is_(None))
                    .order_by(t.c.id)
                    .limit(self._batch)
                )
            ).all()
        if not rows:
            return 0
        # Published concurrently: the writes leave in order on one connection, and
        # waiting for each ack in turn would cap the relay near 8k events/s.
        await asyncio.gather(*(self._publish_row(row) for row in rows))
        await self._mark_sent([r.id for r in rows])
        _published.add(len(rows))
        return len(rows)

    async def _mark_sent(self, ids: list[int]) -> None:
        t = self._table
        async with self._db.write() as conn:
            await conn.execute(update(t).where(t.c.id.in_(ids)).values(sent_at=datetime.now(UTC)))

    async def _publish_row(self, row: object) -> None:
        headers: dict[str, str] = json.loads(row.headers)  # type: ignore[attr-defined]
        event = OutgoingEvent(
            event_id=row.event_id,  # type: ignore[attr-defined]
            subject=row.subject,  # type: ignore[attr-defined]
            event_type=row.event_type,  # type: ignore[attr-defined]
            payload=row.payload,  # type: ignore[attr-defined]
            headers=headers,
        )
        # The publish span continues the trace of the request that wrote the row.
        token = otel_context.attach(extract(headers))
        try:
            await publish_event(self._js, event)
        finally:
            otel_context.detach(token)

    async def _cleanup(self) -> None:
        t = self._table
        cutoff = datetime.now(UTC) - self._retention
        async with self._db.write() as conn:
            await conn.execute(delete(t).where(t.c.sent_at.is_not(None), t.c.sent_at < cutoff))
