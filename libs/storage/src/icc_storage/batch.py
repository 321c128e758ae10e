"""Group commit: many concurrent requests' writes share one transaction.

One async commit per request caps a process near 800 writes/s, and with aiosqlite
every statement is a hop to the driver's thread. So the batcher runs every write
waiting in its queue in one transaction, and the rows the writes *add* are held in
the `WriteTx` and inserted at the end, one multi-row statement per table.

No savepoints while all goes well (two more statements, on SQLite two more hops to the
driver's thread, per write). When a write raises:
- on SQLite the transaction is rolled back and the batch runs again without it. SQLite
  has one writer at a time and no row locks, so a re-run costs only its own time.
- on PostgreSQL the batch runs again with each write in a savepoint: one that raises
  is undone alone and the others go on. A re-run per refused write is not cheap there:
  the batch takes the row locks of all its writes again while other replicas' batches
  wait for them. Two replicas reserving overlapping units re-ran their batches once per
  refused reservation (about 45 re-runs for 50 calls) and deadlocked batch against batch
  on each other's rows (each deadlock costs PostgreSQL's `deadlock_timeout`, 1 s, and
  another re-run of the whole batch): under load a batch ran past its callers' 10 s
  deadline. A write that meets a write conflict (deadlock, serialization failure) is
  undone to its savepoint, which ends its wait; the writes before it commit at once,
  freeing their rows for the other replica, and it and those after it run again in
  the next transaction. PostgreSQL keeps the ids of 64 subtransactions per session in
  shared memory (beyond them every other session's snapshot looks them up on disk):
  a transaction with savepoints takes at most `MAX_SAVEPOINTS` writes.

When the final inserts fail (say a unique key taken by another replica), every write
of the batch runs again alone, so each caller gets its own answer. Writes must
therefore be re-runnable: build ids and events before submitting, read and decide
inside.

What a write hands on once its transaction has committed (the outbox's events, for the
relay to publish at once) it gives to `WriteTx.after_commit` under a kind (`AfterCommit`);
the batcher gathers each kind over the batch and, after the commit, calls the hook that
was registered for it (`WriteBatcher.on_commit`). It knows nothing of what the items are.

On a SQLite file a batch of up to `inline_max_jobs` writes runs on the event loop's
thread, without those hops; a bigger batch goes to the driver's thread, where SQLite
works beside the event loop. Which is better depends on the writes:
- the incidents service writes few, large rows (incident, chronology, outbox): SQLite's
  own work is worth moving off the loop. `make bench`: call→event p50 4.71 ms through
  the thread, 2.96 ms inline; 32 clients 1,057 events/s through the thread, 609/s with
  every batch inline, 1,071/s with batches of up to 2 inline (the default).
- dispatch and resources run many small statements per write (reads by key, one-row
  updates): the hops are most of the cost, and under load each waits for the GIL.
  `bench/run.py --only dispatch-e2e`, create → assigned at 50 incidents/s, p50: 9.1 s
  with batches of up to 2 inline (the services fell behind), 0.43 s with every batch
  inline; at 1/s 30 → 23 ms.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from opentelemetry import context as otel_context
from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_bus.tasks import cancel_and_wait
from icc_storage.database import Database

T = TypeVar("T")
log = logging.getLogger(__name__)


class AfterCommit(Generic[T]):
    """A kind of item that writes hand on after their commit (see the module docstring)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"AfterCommit({self.name!r})"


# What a kind's items go to, once per committed transaction that has any.
CommitHook = Callable[[list[T]], None]


@dataclass
class WriteTx:
    """What a write sees: the connection (reads, updates) and deferred inserts."""

    conn: AsyncConnection
    _rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    _handed_on: dict[AfterCommit[Any], list[Any]] = field(default_factory=dict)

    def add(self, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows when the batch ends (tables flush in first-use order)."""
        self._rows.setdefault(table, []).extend(rows)

    def after_commit(self, kind: AfterCommit[T], items: Sequence[T]) -> None:
        """Items for `kind`'s hook once this transaction has committed."""
        self._handed_on.setdefault(kind, []).extend(items)

    def mark(self) -> "_TxMark":
        """How much is deferred so far; `undo_to` forgets what was deferred after it."""
        return _TxMark(
            {t: len(r) for t, r in self._rows.items()},
            {k: len(v) for k, v in self._handed_on.items()},
        )

    def undo_to(self, mark: "_TxMark") -> None:
        for table, rows in self._rows.items():
            del rows[mark.rows.get(table, 0) :]
        for kind, items in self._handed_on.items():
            del items[mark.handed_on.get(kind, 0) :]

    def handed_on(self) -> Iterable[tuple[AfterCommit[Any], list[Any]]]:
        """What the writes gave to `after_commit`, by kind."""
        return self._handed_on.items()

    async def flush(self) -> None:
        # Parents before children, whatever order the writes used.
        tables = sorted(self._rows, key=lambda t: t.metadata.sorted_tables.index(t))
        for table in tables:
            if self._rows[table]:
                await self.conn.execute(insert(table), self._rows[table])
        self._rows.clear()


@dataclass(frozen=True)
class _TxMark:
    rows: dict[Table, int]
    handed_on: dict[AfterCommit[Any], int]


Work = Callable[[WriteTx], Awaitable[T]]


@dataclass
class _Job(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]
    # The submitter's trace context: events a write builds belong to its request.
    context: otel_context.Context | None = None


class WriteBatcher:
    """The one writer of a service's database; see the module docstring.

    It runs on the service's own event loop. (A writer thread with a loop of its
    own was measured and was slower: the GIL handoffs between two busy threads
    cost more than the queued driver hops they save.)
    """

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 256,
        later_delay_s: float = 0.2,
        inline_max_jobs: int = 2,
    ) -> None:
        self._db = db
        self._max_batch = max_batch
        self._inline_max_jobs = inline_max_jobs
        self._later: list[Work[None]] = []
        self._later_delay_s = later_delay_s
        # Which list of later work the pending timer is for (see `submit_later`).
        self._later_round = 0
        self.batches = 0
        self._hooks: dict[AfterCommit[Any], CommitHook[Any]] = {}
        self._queue: asyncio.Queue[_Job[Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="write-batcher")

    async def stop(self, grace_s: float = 5.0) -> None:
        """Commits what was submitted before the stop, for up to `grace_s`; refuses
        writes from then on. Cancelling a batch mid-commit instead would leave its
        callers waiting for an answer that never comes."""
        task, self._task = self._task, None  # `submit` refuses from here on
        if task is None:
            return
        self._closing = True
        # Wakes the loop; the empty write also carries waiting bookkeeping.
        self._flush_later(force=True)
        done, _ = await asyncio.wait([task], timeout=grace_s)
        if not done:
            log.warning("writes still running at stop; abandoning them", extra={"grace_s": grace_s})
            await cancel_and_wait(task)
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(RuntimeError("storage is shutting down"))

    async def submit(self, work: Work[T]) -> T:
        """Run `work(tx)` in a transaction; returns once that transaction committed."""
        if self._task is None:
            raise RuntimeError("storage is shutting down")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(work, future, otel_context.get_current()))
        return await future

    def submit_later(self, work: Work[None]) -> None:
        """A write nobody waits for (bookkeeping): it rides along with the next
        batch, or commits on its own after `later_delay_s` without one, so it
        never puts a commit of its own in front of a request."""
        if not self._later:
            # Nothing may come to carry it: make sure it commits after the delay. The
            # timer is for this list only: once a batch carried it, the timer does not
            # commit newer work early (that was about one extra commit per request).
            self._later_round += 1
            asyncio.get_running_loop().call_later(
                self._later_delay_s, self._flush_later, False, self._later_round
            )
        self._later.append(work)

    def _flush_later(self, force: bool = False, round_: int | None = None) -> None:
        due = self._later and round_ == self._later_round and self._queue.empty()
        if force or (due and self._task is not None):
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.add_done_callback(_log_failure)
            self._queue.put_nowait(_Job(_nothing, future))

    def on_commit(self, kind: AfterCommit[T], hook: CommitHook[T]) -> None:
        """After each commit, `hook` gets the items its writes gave under `kind` (one
        call with all of the batch's, none when there are none). Items of a kind
        without a hook are dropped."""
        self._hooks[kind] = hook

    def _run_hooks(self, tx: WriteTx) -> None:
        for kind, items in tx.handed_on():
            hook = self._hooks.get(kind)
            if hook is not None and items:
                hook(items)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not (self._closing and self._queue.empty() and not self._later):
            jobs: list[_Job[Any]] = []
            try:
                # `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` drops a
                # cancellation that arrives as the read gets its item, and stop() hung.
                async with asyncio.timeout(self._later_delay_s if self._later else None):
                    jobs.append(await self._queue.get())
            except TimeoutError:
                pass
            while len(jobs) < self._max_batch and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            later, self._later = self._later, []
            for work in later:
                job: _Job[None] = _Job(work, loop.create_future())
                job.future.add_done_callback(_log_failure)
                jobs.append(job)
            try:
                await self._commit_batch(jobs)
            except asyncio.CancelledError:
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(RuntimeError("storage is shutting down"))
                raise
            except Exception as exc:  # the database itself failed: answer everyone
                log.error("batched commit failed", extra={"jobs": len(jobs), "error": repr(exc)})
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)

    async def _commit_batch(self, jobs: list[_Job[Any]]) -> None:
        pending = list(jobs)
        conflicts = 0
        isolated = False
        while pending:
            round_ = await self._attempt(pending, isolated=isolated)
            if round_.flush_error is not None:
                if is_write_conflict(round_.flush_error) and conflicts < MAX_CONFLICT_RETRIES:
                    conflicts += 1
                    await _back_off(conflicts)
                    continue
                # A deferred insert clashed: give every write its own transaction.
                for job in pending:
                    await self._commit_batch_alone(job)
                return
            if round_.done:
                self.batches += 1
            self._answer(round_)
            pending = round_.left
            # PostgreSQL: a write raised; the rest of the batch in savepoints.
            isolated = bool(pending) and not self._db.is_sqlite
            if round_.conflict is not None:
                # Another writer (a replica) deadlocked or raced with us: the database
                # aborted our transaction, or the write's savepoint; run it again.
                job, exc = round_.conflict
                if conflicts == MAX_CONFLICT_RETRIES:
                    _fail(job, exc)
                    pending = [j for j in pending if j is not job]
                else:
                    conflicts += 1
                    await _back_off(conflicts)

    async def _commit_batch_alone(self, job: _Job[Any]) -> None:
        for conflicts in range(MAX_CONFLICT_RETRIES + 1):
            round_ = await self._attempt([job], isolated=False)
            error = round_.conflict[1] if round_.conflict is not None else round_.flush_error
            if error is None or not is_write_conflict(error) or conflicts == MAX_CONFLICT_RETRIES:
                break
            await _back_off(conflicts + 1)
        if error is not None:
            _fail(job, error)
            return
        self._answer(round_)

    def _answer(self, round_: "_Round") -> None:
        """Answers the writes a round settled: its commit's hooks run first."""
        if round_.tx is not None:
            self._run_hooks(round_.tx)
        for job, value in round_.done:
            if not job.future.done():
                job.future.set_result(value)
        for job, exc in round_.failed:
            _fail(job, exc)

    async def _attempt(self, jobs: list[_Job[Any]], *, isolated: bool) -> "_Round":
        """One transaction over `jobs`, each in a savepoint if `isolated` (PostgreSQL)."""
        if isolated:
            return await self._attempt_on(jobs[:MAX_SAVEPOINTS], jobs, inline=False, isolated=True)
        if len(jobs) <= self._inline_max_jobs:
            with contextlib.suppress(_Locked):
                return await self._attempt_on(jobs, jobs, inline=True, isolated=False)
        return await self._attempt_on(jobs, jobs, inline=False, isolated=False)

    async def _attempt_on(
        self, jobs: list[_Job[Any]], pending: list[_Job[Any]], *, inline: bool, isolated: bool
    ) -> "_Round":
        """Runs `jobs`, the first of `pending`, in one transaction (see `_Round`)."""
        round_ = _Round(left=pending[len(jobs) :])
        async with self._db.batch_connection(inline=inline) as conn:
            tx = WriteTx(conn)
            try:
                await conn.begin()
            except DBAPIError as exc:
                if inline and is_write_conflict(exc):
                    # Another connection holds the write lock: wait for it off the loop.
                    raise _Locked() from exc
                raise
            for n, job in enumerate(jobs):
                mark = tx.mark()
                savepoint = await conn.begin_nested() if isolated else None
                try:
                    with _traced(job):
                        value = await job.work(tx)
                    if savepoint is not None:
                        await savepoint.commit()
                except Exception as exc:
                    if savepoint is None:
                        await conn.rollback()
                        return self._rolled_back(pending, job, exc)
                    await savepoint.rollback()
                    tx.undo_to(mark)
                    if is_write_conflict(exc):
                        round_.conflict, round_.left = (job, exc), pending[n:]
                        break
                    round_.failed.append((job, exc))
                    continue
                round_.done.append((job, value))
            try:
                await tx.flush()
                await conn.commit()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await conn.rollback()
                # Which write's rows broke it is unknown: the caller re-runs each alone.
                return _Round(flush_error=exc)
        round_.tx = tx
        return round_

    def _rolled_back(self, pending: list[_Job[Any]], job: _Job[Any], exc: Exception) -> "_Round":
        """A write raised in a round without savepoints, which was rolled back whole."""
        if is_write_conflict(exc):
            return _Round(left=pending, conflict=(job, exc))
        if self._db.is_sqlite or job is pending[0]:
            # Answered now; the batch runs again without it. (On PostgreSQL only the
            # first write's answer owes nothing to writes rolled back with it.)
            return _Round(failed=[(job, exc)], left=[j for j in pending if j is not job])
        return _Round(left=pending)  # PostgreSQL: all again, in savepoints


@dataclass
class _Round:
    """What one transaction over a batch's writes came to."""

    # Writes that ran and committed, with their results.
    done: list[tuple[_Job[Any], Any]] = field(default_factory=list)
    # Writes that raised, with their errors (their work undone).
    failed: list[tuple[_Job[Any], Exception]] = field(default_factory=list)
    # Writes still to run, in their order.
    left: list[_Job[Any]] = field(default_factory=list)
    # The write that met a write conflict and its error; it is the first of `left`.
    conflict: tuple[_Job[Any], Exception] | None = None
    # The committed transaction, for the hooks of what its writes handed on.
    tx: WriteTx | None = None
    # The final inserts or the commit failed: nothing committed, nobody answered.
    flush_error: Exception | None = None


@contextlib.contextmanager
def _traced(job: _Job[Any]) -> Iterator[None]:
    """The submitter's trace context around its work."""
    token = otel_context.attach(job.context) if job.context is not None else None
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)


def _fail(job: _Job[Any], exc: Exception) -> None:
    if not job.future.done():
        job.future.set_exception(exc)


async def _back_off(conflicts: int) -> None:
    await asyncio.sleep(random.uniform(0.002, 0.02) * conflicts)


class _Locked(Exception):
    """An inline write found SQLite's write lock taken."""


MAX_CONFLICT_RETRIES = 10
# Writes in one transaction with savepoints (see the module docstring).
MAX_SAVEPOINTS = 64
# `inline_max_jobs` for a service whose writes are all small statements.
EVERY_BATCH_INLINE = 1_000_000
# PostgreSQL: deadlock detected, serialization failure.
_TRANSIENT_SQLSTATES = {"40P01", "40001"}


def is_write_conflict(exc: BaseException) -> bool:
    """A write conflict with another transaction: retrying the same writes is right."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _TRANSIENT_SQLSTATES:
        return True
    text = str(orig).lower()
    return "deadlock detected" in text or "database is locked" in text


def _log_failure(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("background write failed", extra={"error": repr(future.exception())})


async def _nothing(tx: WriteTx) -> None:
    return None
