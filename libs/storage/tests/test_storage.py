"""Outbox, relay, inbox and group commit against real SQLite files and PostgreSQL."""

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from nats.aio.client import Client
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from icc_bus import OutgoingEvent, StreamSpec, build_headers, ensure_streams
from icc_storage import (
    COMMITTED_EVENTS,
    Database,
    OutboxRelay,
    WriteBatcher,
    WriteTx,
    add_events,
    claim_event,
    inbox_table,
    outbox_table,
)
from icc_testing import RecordedMetrics

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), unique=True),
)
STREAM = StreamSpec(name="TEST", subjects=["icc.test.>"])


@pytest_asyncio.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


def event(n: int) -> OutgoingEvent:
    return OutgoingEvent(
        f"e{n}", f"icc.test.{n}", "test.Thing", b"x", build_headers(f"e{n}", "test.Thing")
    )


async def count(db: Database, table: Table, *where: object) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)  # type: ignore[arg-type]


async def stage(db: Database, events: list[OutgoingEvent]) -> None:
    """Commit events to the outbox the way a service does, through the batcher."""
    batcher = WriteBatcher(db)
    batcher.start()

    async def work(tx: WriteTx) -> None:
        add_events(tx, outbox, events)

    try:
        await batcher.submit(work)
    finally:
        await batcher.stop()


async def test_event_commits_with_the_change_or_not_at_all(db: Database) -> None:
    handed: list[OutgoingEvent] = []
    batcher = WriteBatcher(db)
    batcher.on_commit(COMMITTED_EVENTS, handed.extend)
    batcher.start()

    async def good(tx: WriteTx) -> None:
        await tx.conn.execute(insert(things).values(name="a"))
        add_events(tx, outbox, [event(1)])

    async def bad(tx: WriteTx) -> None:
        await tx.conn.execute(insert(things).values(name="b"))
        add_events(tx, outbox, [event(2)])
        raise RuntimeError("handler failed after staging")

    try:
        results = await asyncio.gather(
            batcher.submit(good), batcher.submit(bad), return_exceptions=True
        )
    finally:
        await batcher.stop()
    assert results[0] is None
    assert isinstance(results[1], RuntimeError)
    assert await count(db, things) == 1
    assert await count(db, outbox) == 1
    assert [e.event_id for e in handed] == ["e1"]  # only committed events reach the relay


async def test_relay_publishes_once_and_marks_sent(db: Database, nats_client: Client) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    await stage(db, [event(n) for n in range(20)])
    batcher = WriteBatcher(db)
    batcher.start()
    relay = OutboxRelay(db, outbox, js, batcher)
    try:
        assert await relay.publish_pending() == 20
        assert await relay.publish_pending() == 0
    finally:
        await batcher.stop()
    assert await count(db, outbox, outbox.c.sent_at.is_(None)) == 0
    info = await js.stream_info("TEST")
    assert info.state.messages == 20
    # Events keep their order on the stream.
    assert [(await js.get_msg("TEST", s)).subject for s in (1, 2, 20)] == [
        "icc.test.0",
        "icc.test.1",
        "icc.test.19",
    ]


async def test_crash_between_publish_and_mark_publishes_exactly_once(
    db: Database, nats_client: Client
) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    await stage(db, [event(n) for n in range(5)])
    batcher = WriteBatcher(db)
    batcher.start()

    class Crash(Exception):
        """The process died here."""

    class CrashBeforeMark(OutboxRelay):
        async def _mark_sent(self, event_ids: list[str]) -> None:
            raise Crash("after publishing, before marking")

    with pytest.raises(Crash):
        await CrashBeforeMark(db, outbox, js, batcher).publish_pending()
    assert (await js.stream_info("TEST")).state.messages == 5
    assert await count(db, outbox, outbox.c.sent_at.is_(None)) == 5  # nothing marked

    # The restarted relay publishes the same rows again; JetStream drops them by id.
    try:
        assert await OutboxRelay(db, outbox, js, batcher).publish_pending() == 5
    finally:
        await batcher.stop()
    assert (await js.stream_info("TEST")).state.messages == 5
    assert await count(db, outbox, outbox.c.sent_at.is_(None)) == 0


async def test_started_relay_publishes_what_a_crashed_process_left_at_once(
    db: Database, nats_client: Client
) -> None:
    """Rows committed just before a crash are young, yet the restarted relay's first sweep
    takes them, rather than waiting for them to age into a regular sweep."""
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    await stage(db, [event(n) for n in range(3)])  # committed, never handed to a relay
    batcher, relay = await started(db, nats_client, sweep_age=timedelta(hours=1))
    try:
        await until(lambda: relay.backlog == 0, timeout_s=5)
    finally:
        await relay.stop()
        await batcher.stop()
    assert (await js.stream_info("TEST")).state.messages == 3


async def test_relay_waits_out_a_bus_outage(
    db: Database, nats_client: Client, nats_server: object
) -> None:
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    batcher = WriteBatcher(db)
    relay = OutboxRelay(db, outbox, js, batcher, sweep_interval_s=0.2, sweep_age=timedelta(0))
    batcher.on_commit(COMMITTED_EVENTS, relay.handoff)
    batcher.start()
    relay.start()

    async def work(tx: WriteTx) -> None:
        add_events(tx, outbox, [event(1)])

    try:
        nats_server.stop()  # type: ignore[attr-defined]
        await batcher.submit(work)
        await asyncio.sleep(1.0)
        assert await count(db, outbox, outbox.c.sent_at.is_(None)) == 1  # kept, not lost
        nats_server.start()  # type: ignore[attr-defined]
        for _ in range(300):
            if await count(db, outbox, outbox.c.sent_at.is_(None)) == 0:
                break
            await asyncio.sleep(0.05)
        assert await count(db, outbox, outbox.c.sent_at.is_(None)) == 0
        assert (await js.stream_info("TEST")).state.messages == 1
    finally:
        await relay.stop()
        await batcher.stop()


async def test_inbox_claims_an_event_once_and_only_with_its_effect(db: Database) -> None:
    async with db.write() as conn:
        assert await claim_event(conn, inbox, "worker", "e1")
        assert not await claim_event(conn, inbox, "worker", "e1")
        assert await claim_event(conn, inbox, "other-worker", "e1")
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            assert await claim_event(conn, inbox, "worker", "e2")
            raise RuntimeError("effect failed")
    async with db.write() as conn:
        assert await claim_event(conn, inbox, "worker", "e2")  # the failed attempt left no trace


async def test_batcher_commits_concurrent_writes_and_isolates_failures(db: Database) -> None:
    batcher = WriteBatcher(db)
    batcher.start()

    def writer(name: str, n: int) -> Callable[[WriteTx], Awaitable[str]]:
        async def work(tx: WriteTx) -> str:
            if name == "refused":
                raise ValueError("a domain rule said no")
            tx.add(things, [{"name": name}])  # deferred: one multi-row insert per batch
            add_events(tx, outbox, [event(n)])
            return name

        return work

    try:
        names = [f"t{n}" for n in range(200)] + [
            "refused",
            "t5",
        ]  # "t5" again breaks the unique name
        results = await asyncio.gather(
            *(batcher.submit(writer(name, n)) for n, name in enumerate(names)),
            return_exceptions=True,
        )
    finally:
        await batcher.stop()
    assert isinstance(results[200], ValueError)
    assert isinstance(results[201], IntegrityError)
    assert results[:200] == [f"t{n}" for n in range(200)]
    assert await count(db, things) == 200
    assert await count(db, outbox) == 200
    assert batcher.batches < 200  # shared commits, not one per write


async def test_refused_writes_cost_their_batch_one_rerun_on_postgresql(db: Database) -> None:
    """A refused write is undone with what it wrote and deferred. On PostgreSQL the batch
    runs again once, each write in a savepoint, whatever the number of refusals (a re-run
    takes its row locks again while other replicas wait); on SQLite it runs again
    without each refused write in turn."""
    batcher = WriteBatcher(db)
    batcher.start()
    runs: collections.Counter[str] = collections.Counter()

    def writer(name: str) -> Callable[[WriteTx], Awaitable[str]]:
        async def work(tx: WriteTx) -> str:
            runs[name] += 1
            await tx.conn.execute(insert(things).values(name=f"{name}-{runs[name]}-early"))
            add_events(tx, outbox, [event(runs.total())])
            if name.startswith("refused"):
                raise ValueError("a domain rule said no")
            tx.add(things, [{"name": name}])
            return name

        return work

    names = ["a", "refused-1", "b", "refused-2", "c"]
    try:
        results = await asyncio.gather(
            *(batcher.submit(writer(name)) for name in names), return_exceptions=True
        )
    finally:
        await batcher.stop()
    assert [r if isinstance(r, str) else type(r) for r in results] == [
        "a",
        ValueError,
        "b",
        ValueError,
        "c",
    ]
    async with db.read() as conn:
        stored = set((await conn.execute(select(things.c.name))).scalars())
    assert {n for n in stored if not n.endswith("-early")} == {"a", "b", "c"}
    assert not any(n.startswith("refused") for n in stored)
    assert await count(db, outbox) == 3  # the refused writes' events are gone with them
    if db.is_sqlite:
        assert runs == {"a": 3, "refused-1": 1, "b": 2, "refused-2": 1, "c": 1}
    else:
        assert runs == {"a": 2, "refused-1": 2, "b": 1, "refused-2": 1, "c": 1}


async def test_a_deadlock_between_replicas_reruns_only_the_write_that_lost(
    database_url: str,
) -> None:
    """Two replicas' batches take two rows in opposite orders; one, already in savepoints
    after a refusal, is the deadlock's victim (it waits first). Its write that lost runs
    again after the write before it has committed and freed its row; every write is
    answered, the other replica's once."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no row locks to deadlock on")
    replicas = [Database(database_url), Database(database_url)]
    async with replicas[0].engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(things), [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
    batchers = [WriteBatcher(replica) for replica in replicas]
    for batcher in batchers:
        batcher.start()
    holding = [asyncio.Event(), asyncio.Event()]
    runs: collections.Counter[str] = collections.Counter()

    def rename(
        replica: int, row: int, *, hold: bool = False
    ) -> Callable[[WriteTx], Awaitable[str]]:
        name = f"r{replica}-row{row}"

        async def work(tx: WriteTx) -> str:
            runs[name] += 1
            await tx.conn.execute(update(things).where(things.c.id == row).values(name=name))
            if hold:  # each batch holds its first row until the other holds its own
                holding[replica].set()
                await holding[1 - replica].wait()
                if replica == 1:
                    await asyncio.sleep(0.5)  # replica 0 waits first: its wait is the victim
            return name

        return work

    async def refused(tx: WriteTx) -> str:
        raise ValueError("a domain rule said no")

    try:
        results = await asyncio.gather(
            batchers[0].submit(refused),
            batchers[0].submit(rename(0, 1, hold=True)),
            batchers[0].submit(rename(0, 2)),
            batchers[1].submit(rename(1, 2, hold=True)),
            batchers[1].submit(rename(1, 1)),
            return_exceptions=True,
        )
    finally:
        for batcher in batchers:
            await batcher.stop()
        for replica in replicas:
            await replica.dispose()
    assert isinstance(results[0], ValueError)
    assert results[1:] == ["r0-row1", "r0-row2", "r1-row2", "r1-row1"]
    assert runs == {"r0-row1": 1, "r0-row2": 2, "r1-row2": 1, "r1-row1": 1}


async def test_bookkeeping_rides_along_with_the_next_write(db: Database) -> None:
    """Work nobody waits for (the relay's sent marks) commits with the next write, not
    in a commit of its own, as long as writes keep coming; alone, after the delay."""
    batcher = WriteBatcher(db, later_delay_s=0.1)
    batcher.start()

    def named(name: str) -> Callable[[WriteTx], Awaitable[None]]:
        async def work(tx: WriteTx) -> None:
            tx.add(things, [{"name": name}])

        return work

    rounds = 20
    try:
        # A write every ~20 ms, each following a piece of bookkeeping: the pattern of
        # a service whose relay marks each commit's events while requests go on.
        for n in range(rounds):
            batcher.submit_later(named(f"mark-{n}"))
            await asyncio.sleep(0.02)
            await batcher.submit(named(f"write-{n}"))
        assert batcher.batches == rounds
        batcher.submit_later(named("last mark"))
        await asyncio.sleep(0.4)
        assert batcher.batches == rounds + 1  # nothing came to carry it
        assert await count(db, things) == 2 * rounds + 1
    finally:
        await batcher.stop()


async def test_writes_one_at_a_time_commit_whole_or_not_at_all(db: Database) -> None:
    """The quiet-hours path: each write alone in its batch (inline on SQLite). A refused
    write and a broken insert leave nothing behind, and the writer goes on; a write
    lock held elsewhere (another process's transaction) is waited for, not failed."""
    batcher = WriteBatcher(db)
    batcher.start()

    def writer(name: str, n: int, refuse: bool = False) -> Callable[[WriteTx], Awaitable[str]]:
        async def work(tx: WriteTx) -> str:
            await tx.conn.execute(insert(things).values(name=f"{name}-early"))
            if refuse:
                raise ValueError("a domain rule said no")
            tx.add(things, [{"name": name}])
            add_events(tx, outbox, [event(n)])
            return name

        return work

    try:
        assert await batcher.submit(writer("a", 1)) == "a"
        with pytest.raises(ValueError, match="said no"):
            await batcher.submit(writer("b", 2, refuse=True))
        with pytest.raises(IntegrityError):
            await batcher.submit(writer("a", 3))  # "a-early" is taken: the whole write fails
        if db.is_sqlite:
            other = Database(db.url)
            try:
                async with other.write() as conn:
                    await conn.execute(insert(things).values(name="other"))
                    # The batcher's write has to wait for this transaction to end.
                    pending = asyncio.ensure_future(batcher.submit(writer("c", 4)))
                    await asyncio.sleep(0.05)
                    assert not pending.done()
                assert await pending == "c"
            finally:
                await other.dispose()
        else:
            assert await batcher.submit(writer("c", 4)) == "c"
    finally:
        await batcher.stop()
    async with db.read() as conn:
        names = set((await conn.execute(select(things.c.name))).scalars())
    assert names - {"other"} == {"a-early", "a", "c-early", "c"}
    assert await count(db, outbox) == 2


async def test_relay_reports_the_unsent_rows_as_backlog(
    db: Database, nats_client: Client, metrics: RecordedMetrics
) -> None:
    # After the first sweep (everything left over), rows younger than an hour are left to
    # the fast path: the sweeps only count them.
    batcher, relay = await started(
        db, nats_client, sweep_interval_s=0.05, sweep_age=timedelta(hours=1)
    )
    try:
        await until(lambda: relay.backlog == 0)
        await stage(db, [event(n) for n in range(7)])
        await until(lambda: relay.backlog == 7)
        assert metrics.gauge("icc.outbox.backlog") == 7
        assert await relay.publish_pending() == 7
        await until(lambda: relay.backlog == 0)
        assert metrics.gauge("icc.outbox.backlog") == 0
    finally:
        await relay.stop()
        await batcher.stop()
    # A stopped relay reports nothing any more.
    assert RecordedMetrics(metrics.reader).gauge("icc.outbox.backlog") is None


async def started(
    db: Database, nats_client: Client, **relay_options: Any
) -> tuple[WriteBatcher, OutboxRelay]:
    """A batcher and a relay on the test stream, both started (committed events are not
    handed to the relay: its sweeps find them)."""
    js = nats_client.jetstream()
    await ensure_streams(js, [STREAM])
    batcher = WriteBatcher(db)
    batcher.start()
    relay = OutboxRelay(db, outbox, js, batcher, **relay_options)
    relay.start()
    return batcher, relay


async def until(check: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("yields", [0, 1, 2, 3])
async def test_writer_and_relay_stop_when_work_arrives_as_they_are_stopped(
    db: Database, nats_client: Client, yields: int
) -> None:
    # A stop that lands while the loop is waking for new work must still stop it. On
    # Python 3.11, `asyncio.wait_for` around the queue read drops that cancellation
    # once the read has its item, and the loop ran on forever (a hung shutdown).
    batcher, relay = await started(db, nats_client)
    await until(lambda: relay.backlog is not None)  # past its first sweep, waiting for work

    async def nothing(tx: WriteTx) -> None:
        return None

    relay.handoff([])
    for _ in range(yields):
        await asyncio.sleep(0)
    await stops_within(relay.stop())

    write = asyncio.create_task(batcher.submit(nothing))
    for _ in range(yields + 1):
        await asyncio.sleep(0)
    await stops_within(batcher.stop())
    with contextlib.suppress(RuntimeError):  # refused as shutting down: also a clean stop
        await write


async def stops_within(stop: Awaitable[None], timeout_s: float = 5) -> None:
    # Not `wait_for`: its timeout cancels the stop, and that second cancellation would
    # end a loop that ignored the first.
    task = asyncio.ensure_future(stop)
    done, _ = await asyncio.wait([task], timeout=timeout_s)
    assert done, "the loop did not stop"
    await task
