"""Dispatch's records as the use cases see them (`use_cases.ports.Records`), over the SQL
statements of `store` and the group commit of `icc_storage`: reads run inline on the
event loop's thread; writes share commits, their events go to the outbox."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from icc_dispatch import store
from icc_dispatch.domain.case import Case
from icc_dispatch.domain.events import DispatchEvent
from icc_dispatch.domain.model import Assignment, IncidentView, UnitKind
from icc_dispatch.outbox_events import outgoing_event
from icc_dispatch.use_cases.ports import Reads, Writes
from icc_storage import Database, WriteBatcher, WriteTx, add_events, claim_event

T = TypeVar("T")


class SqlReads:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def case_or_none(self, incident_id: str) -> Case | None:
        return await store.load_case_or_none(self._conn, incident_id)

    async def case(self, incident_id: str) -> Case:
        return await store.load_case(self._conn, incident_id)

    async def assignments_of(self, incident_id: str) -> list[Assignment]:
        return await store.assignments_of(self._conn, incident_id)

    async def by_request(self, request_id: str) -> list[Assignment]:
        return await store.by_request(self._conn, request_id)

    async def active_for_unit(self, unit_id: str) -> Assignment | None:
        return await store.active_for_unit(self._conn, unit_id)

    async def any_attention(self) -> bool:
        return await store.any_attention(self._conn)

    async def most_urgent(self, skip: Iterable[str]) -> str | None:
        rows = await store.most_urgent(self._conn, skip, limit=1)
        return rows[0].id if rows else None

    async def any_waiting(self, kinds: Iterable[UnitKind]) -> bool:
        return await store.any_waiting(self._conn, kinds)

    async def unfinished(self) -> tuple[list[Assignment], list[Assignment]]:
        return await store.unfinished(self._conn)

    async def overdue(self, now: datetime) -> list[Assignment]:
        return await store.overdue(self._conn, now)


class SqlWrites(SqlReads):
    def __init__(self, tx: WriteTx) -> None:
        super().__init__(tx.conn)
        self._tx = tx

    async def claim(self, consumer: str, event_id: str) -> bool:
        return await claim_event(self._conn, store.inbox, consumer, event_id)

    async def by_request_locked(self, request_id: str) -> list[Assignment]:
        return await store.by_request(self._conn, request_id, lock=True)

    async def insert_case(self, view: IncidentView, attention: bool, trace_context: str) -> bool:
        return await store.insert_incident(self._conn, view, attention, trace_context)

    async def upsert_case(self, view: IncidentView, attention: bool, trace_context: str) -> bool:
        return await store.upsert_incident(self._conn, view, attention, trace_context)

    async def settle(self, before: Case, after: Case) -> bool:
        return await store.settle(self._conn, before, after)

    async def take(self, case: Case, *, settled: bool) -> bool:
        return await store.take(self._conn, case, settled=settled)

    async def want_attention(self, incident_id: str) -> None:
        await store.want_attention(self._conn, incident_id)

    async def exclude_unit(self, incident_id: str, unit_id: str) -> None:
        await store.exclude_unit(self._conn, incident_id, unit_id)

    async def wake_waiting(self, freed: Mapping[UnitKind, int]) -> int:
        return await store.wake_waiting(self._conn, freed)

    async def held_units(self, unit_ids: Iterable[str]) -> set[str]:
        return await store.held_units(self._conn, unit_ids)

    async def load_assignment(self, assignment_id: str) -> Assignment:
        return await store.load_assignment(self._conn, assignment_id)

    async def insert_assignments(self, items: Sequence[Assignment]) -> None:
        await store.insert_assignments(self._conn, items)

    async def save_assignments(self, items: Sequence[Assignment]) -> None:
        await store.save_assignments(self._conn, items)

    async def delete_assignments(self, ids: Iterable[str]) -> None:
        await store.delete_assignments(self._conn, ids)

    async def release_told(self, assignment_ids: Sequence[str]) -> None:
        await store.release_told(self._conn, assignment_ids)

    def announce(self, events: Sequence[DispatchEvent]) -> None:
        add_events(self._tx, store.outbox, [outgoing_event(e) for e in events])


class SqlRecords:
    def __init__(self, db: Database, batcher: WriteBatcher) -> None:
        self._db = db
        self._batcher = batcher

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Reads]:
        async with self._db.read(inline=True) as conn:
            yield SqlReads(conn)

    async def write(self, work: Callable[[Writes], Awaitable[T]]) -> T:
        return await self._batcher.submit(lambda tx: work(SqlWrites(tx)))

    def write_later(self, work: Callable[[Writes], Awaitable[None]]) -> None:
        self._batcher.submit_later(lambda tx: work(SqlWrites(tx)))
