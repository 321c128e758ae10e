"""The transactional outbox and its relay.

A state change and its events commit in one transaction (`add_events`). The
relay publishes them and then marks them sent. A crash
between commit and publish loses nothing (the row stays unsent); a crash
between publish and mark re-publishes with the same `Nats-Msg-Id`, which
JetStream's duplicate window drops.
"""

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta

from nats.js import JetStreamContext
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
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
    bindparam,
    delete,
    func,
    select,
    update,
)

from icc_bus import OutgoingEvent, cancel_and_wait, publish_batch
from icc_storage.batch import AfterCommit, WriteBatcher, WriteTx
from icc_storage.database import Database

log = logging.getLogger(__name__)
_meter = metrics.get_meter("icc_storage")
_published = _meter.create_counter("icc.outbox.published", description="Outbox events published")

# Unsent rows per running relay, as each one last counted them. Written on the event
# loop, read by the metric reader's thread (a scrape or a periodic export): hence the lock.
_backlogs: dict[int, int] = {}
_backlogs_lock = threading.Lock()


def _observe_backlog(options: CallbackOptions) -> Iterable[Observation]:
    with _backlogs_lock:
        counts = list(_backlogs.values())
    if counts:
        # One series per process, i.e. per service replica (the resource names the
        # service). Replicas share the table and each reports all of it: aggregate
        # with max, not sum.
        yield Observation(sum(counts))


_meter.create_observable_gauge(
    "icc.outbox.backlog",
    callbacks=[_observe_backlog],
    unit="{event}",
    description="Outbox rows not yet published (counted at each relay sweep, every ~2 s)",
)


# Events of a committed write, for the relay to publish at once (`OutboxRelay.handoff`,
# registered with the batcher by `icc_storage.writer`).
COMMITTED_EVENTS: AfterCommit[OutgoingEvent] = AfterCommit("outbox events")


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


def add_events(tx: WriteTx, table: Table, events: Sequence[OutgoingEvent]) -> None:
    """Stage events in the write's transaction; the relay gets them once it commits."""
    if not events:
        return
    now = datetime.now(UTC)
    tx.add(
        table,
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
    tx.after_commit(COMMITTED_EVENTS, events)


class OutboxRelay:
    """Publishes committed events and marks them sent.

    Events arrive two ways: handed over by the batcher right after their commit (the
    fast path), and swept from the table (rows left unsent by a crash, a bus outage
    or a failed publish). Marking goes through the batcher, the database's one writer.
    """

    def __init__(
        self,
        db: Database,
        table: Table,
        js: JetStreamContext,
        writer: WriteBatcher,
        *,
        batch: int = 500,
        sweep_interval_s: float = 2.0,
        sweep_age: timedelta = timedelta(seconds=5),
        retention: timedelta = timedelta(days=1),
    ) -> None:
        self._db = db
        self._table = table
        self._js = js
        self._writer = writer
        self._batch = batch
        self._sweep_interval = sweep_interval_s
        self._sweep_age = sweep_age
        self._retention = retention
        self._handed: asyncio.Queue[list[OutgoingEvent]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.backlog: int | None = None  # unsent rows at the last sweep
        # Built once, values as parameters (the relay marks after every publish).
        self._mark = (
            update(table)
            .where(table.c.event_id.in_(bindparam("event_ids", expanding=True)))
            .values(sent_at=bindparam("b_sent_at"))
        )

    def handoff(self, events: list[OutgoingEvent]) -> None:
        """Called by the batcher after a commit."""
        self._handed.put_nowait(events)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        with _backlogs_lock:
            _backlogs.pop(id(self), None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        # The first sweep takes every unsent row, however young: rows a crashed process
        # committed but never published. (A row another replica is publishing right now
        # goes out twice; JetStream drops the second by its Nats-Msg-Id.)
        age: timedelta | None = None
        last_cleanup = loop.time()
        while True:
            try:
                timeout = max(0.0, next_sweep - loop.time())
                try:
                    # Not `wait_for`: see `WriteBatcher._run`.
                    async with asyncio.timeout(timeout):
                        events = await self._handed.get()
                except TimeoutError:
                    events = []
                while not self._handed.empty() and len(events) < self._batch:
                    events.extend(self._handed.get_nowait())
                if events:
                    await self._publish(events)
                if loop.time() >= next_sweep:
                    while await self.publish_pending(older_than=age) == self._batch:
                        pass
                    age = self._sweep_age
                    await self._count_backlog()
                    next_sweep = loop.time() + self._sweep_interval
                if loop.time() - last_cleanup > 600:
                    await self._cleanup()
                    last_cleanup = loop.time()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay failed; the sweep will retry", extra={"error": repr(exc)})
                next_sweep = loop.time() + 1.0

    async def _count_backlog(self) -> None:
        """Count the unsent rows for the `icc.outbox.backlog` gauge, once per sweep.

        A count, not a tally of handed-over minus published events: the tally would
        miss rows left by a crash, by the relay switched off or by another replica,
        which are the backlog that matters. It is one query per sweep interval
        (not per event) and reads only the partial index of unsent rows.
        """
        t = self._table
        async with self._db.read() as conn:
            count = (
                await conn.execute(select(func.count()).select_from(t).where(t.c.sent_at.is_(None)))
            ).scalar_one()
        self.backlog = int(count)
        with _backlogs_lock:
            _backlogs[id(self)] = self.backlog

    async def publish_pending(self, older_than: timedelta | None = None) -> int:
        """Publish one batch of unsent rows (optionally only older ones); returns how many."""
        t = self._table
        query = select(t.c.event_id, t.c.subject, t.c.event_type, t.c.payload, t.c.headers).where(
            t.c.sent_at.is_(None)
        )
        if older_than is not None:
            query = query.where(t.c.created_at < datetime.now(UTC) - older_than)
        async with self._db.read() as conn:
            rows = (await conn.execute(query.order_by(t.c.id).limit(self._batch))).all()
        if not rows:
            return 0
        events = [
            OutgoingEvent(
                event_id=r.event_id,
                subject=r.subject,
                event_type=r.event_type,
                payload=r.payload,
                headers=json.loads(r.headers),
            )
            for r in rows
        ]
        return await self._publish(events, wait_for_mark=True)

    async def _publish(self, events: list[OutgoingEvent], wait_for_mark: bool = False) -> int:
        """Publish events and mark the ones that went out; returns how many did."""
        # Concurrently: the writes leave in order on one connection, and waiting for
        # each ack in turn would cap the relay near the sequential publish rate.
        outcomes = await publish_batch(self._js, events)
        # Mark what went out; what failed stays unsent for the sweep.
        event_ids = [e.event_id for e, o in zip(events, outcomes, strict=True) if o is None]
        _published.add(len(event_ids))
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures:
            log.warning(
                "some events were not published; the sweep will retry them",
                extra={"failed": len(failures), "error": type(failures[0]).__name__},
            )
        if not event_ids:
            return 0
        if wait_for_mark:
            await self._mark_sent(event_ids)
        else:
            # Bookkeeping rides along with the next group commit: a lost mark only
            # means a re-publish that JetStream drops as a duplicate.
            self._writer.submit_later(self._mark_work(event_ids))
        return len(event_ids)

    async def _mark_sent(self, event_ids: list[str]) -> None:
        await self._writer.submit(self._mark_work(event_ids))

    def _mark_work(self, event_ids: list[str]) -> Callable[[WriteTx], Awaitable[None]]:
        async def mark(tx: WriteTx) -> None:
            await tx.conn.execute(
                self._mark, {"event_ids": event_ids, "b_sent_at": datetime.now(UTC)}
            )

        return mark

    async def _cleanup(self) -> None:
        t = self._table
        cutoff = datetime.now(UTC) - self._retention

        async def purge(tx: WriteTx) -> None:
            await tx.conn.execute(delete(t).where(t.c.sent_at.is_not(None), t.c.sent_at < cutoff))

        await self._writer.submit(purge)
