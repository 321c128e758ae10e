"""Use cases of the incidents service: validate, change, record, announce.

Each write runs through the `WriteBatcher`, so the incident row, its chronology
entry and its outbox event commit together, and concurrent requests share one
commit. The use cases speak the domain's words: they return incidents and hand
each change's `IncidentChanged` to `announce` (`icc_incidents.events`, which puts
it on the outbox as protobuf); the store maps rows.
"""

import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from icc_incidents import audit, store
from icc_incidents.domain import lifecycle
from icc_incidents.domain.errors import DuplicateRecord
from icc_incidents.domain.events import IncidentChanged
from icc_incidents.domain.lifecycle import Change, Draft, Findings
from icc_incidents.domain.model import (
    COLLECTION,
    ChronologyEntry,
    Incident,
    IncidentFilter,
    Note,
    note_name,
)
from icc_incidents.domain.validation import Rules
from icc_incidents.metrics import record_created
from icc_kernel.actors import Actor
from icc_kernel.clock import utc_now
from icc_kernel.errors import InvalidInput, Violation, raise_if_any
from icc_kernel.names import MAX_INCIDENT_ID, parse_name
from icc_kernel.requests import request_id_violations
from icc_storage import Database, WriteBatcher, WriteTx

RECENT_REQUESTS = 50_000

# An announcement made ready for the outbox of the write that calls it.
Stage = Callable[[WriteTx], None]


def new_incident_id() -> str:
    return secrets.token_hex(8)


def parse_incident_name(name: str, field: str = "name") -> str:
    return parse_name(name, COLLECTION, field, max_len=MAX_INCIDENT_ID)


@dataclass
class IncidentService:
    db: Database
    batcher: WriteBatcher
    rules: Rules
    # Builds a change's event (`icc_incidents.events.staged`).
    announce: Callable[[IncidentChanged], Stage]
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = new_incident_id
    # What intake finds about a checked draft (`CallTaking.findings`); None: nothing.
    findings: Callable[[Draft, datetime], Awaitable[Findings]] | None = None
    # The RPC being answered (`icc_rpc.authz.current_method`), for the audit: read
    # before a write is submitted, as the batcher runs the write in its own task.
    rpc: Callable[[], str] = field(default=lambda: "")
    # request_id -> incident id of creates this process answered recently.
    _recent: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def _record(self, tx: WriteTx, change: Change, actor: Actor, now: datetime, rpc: str) -> None:
        store.append_change(tx, change, actor, rpc)
        self.announce(IncidentChanged(change, actor, now))(tx)

    def record(self, tx: WriteTx, change: Change, actor: Actor, now: datetime, rpc: str) -> None:
        """A change's chronology entry, audit record and event, in the write that made it
        (`rpc`: read with `self.rpc()` before the write was submitted)."""
        self._record(tx, change, actor, now, rpc)

    async def create(
        self,
        draft: Draft,
        request_id: str,
        actor: Actor,
        also: Callable[[WriteTx, Incident], Awaitable[None]] | None = None,
    ) -> tuple[Incident, bool]:
        """Returns (incident, replayed); replayed when `request_id` was seen before.
        `also`: more writes in the same transaction (a transfer's link and notes)."""
        raise_if_any(request_id_violations(request_id))
        known = self._recent.get(request_id) if request_id else None
        if known is not None:
            async with self.db.read() as conn:
                return await store.load(conn, known), True
        now = self.clock()
        lifecycle.check_new(self.rules, draft)
        # Read before the write: two calls at the same moment may each miss the other.
        found = await self.findings(draft, now) if self.findings else Findings()
        change = lifecycle.new_incident(
            self.rules, draft, incident_id=self.new_id(), actor=actor, now=now, found=found
        )
        # Built before the write: a write that runs again keeps the event's id.
        stage = self.announce(IncidentChanged(change, actor, now))
        rpc = self.rpc()
        # No read before writing: a request id this process has not seen is
        # new almost always, and when it is not (a retry after a restart, or
        # through another replica) the unique request_id refuses the insert.

        async def work(tx: WriteTx) -> Incident:
            store.insert_incident(tx, change.incident, request_id)
            store.append_change(tx, change, actor, rpc)
            stage(tx)
            if also is not None:
                await also(tx, change.incident)
            return change.incident

        try:
            incident = await store.submit_insert(self.batcher, work)
        except DuplicateRecord:
            # Another replica committed the same request_id between our read and insert.
            if not request_id:
                raise
            async with self.db.read() as conn:
                existing = await store.find_by_request_id(conn, request_id)
            if existing is None:
                raise
            self._remember(request_id, existing.id)
            return existing, True
        if request_id:
            self._remember(request_id, incident.id)
        record_created(incident)
        return incident, False

    def _remember(self, request_id: str, incident_id: str) -> None:
        self._recent[request_id] = incident_id
        if len(self._recent) > RECENT_REQUESTS:
            self._recent.popitem(last=False)

    async def get(self, name: str) -> Incident:
        found = parse_incident_name(name)
        async with self.db.read() as conn:
            return await store.load(conn, found, with_notes=True)

    async def list_incidents(
        self, flt: IncidentFilter, limit: int, after: tuple[datetime, str] | None
    ) -> list[Incident]:
        """Newest first, after the creation time and id of the previous page's last one."""
        async with self.db.read() as conn:
            return await store.list_incidents(conn, flt, limit, after)

    async def chronology(self, name: str, limit: int, after: int) -> list[ChronologyEntry]:
        """Oldest first, from the entry after sequence number `after`."""
        found = parse_incident_name(name, "parent")
        async with self.db.read() as conn:
            await store.load(conn, found)
            return await store.list_chronology(conn, found, limit, after)

    async def _change(
        self,
        name: str,
        actor: Actor,
        apply: Callable[[Incident, datetime], Change],
        field: str = "name",
    ) -> Incident:
        changed_id = parse_incident_name(name, field)
        rpc = self.rpc()

        async def work(tx: WriteTx) -> Incident:
            now = self.clock()
            change = apply(await store.load(tx.conn, changed_id), now)
            await store.save_incident(tx.conn, change.incident)
            self._record(tx, change, actor, now, rpc)
            return change.incident

        return await self.batcher.submit(work)

    async def update(
        self, name: str, patch: Draft, mask: list[str], etag: str, actor: Actor
    ) -> Incident:
        lifecycle.check_update(self.rules, patch, mask, etag)
        return await self._change(
            name,
            actor,
            lambda i, now: lifecycle.update(
                self.rules, i, patch, mask, expected_etag=etag, now=now
            ),
            "incident.name",
        )

    async def close(self, name: str, resolution: str, etag: str, actor: Actor) -> Incident:
        return await self._change(
            name,
            actor,
            lambda i, now: lifecycle.close(i, resolution=resolution, expected_etag=etag, now=now),
        )

    async def cancel(self, name: str, reason: str, etag: str, actor: Actor) -> Incident:
        return await self._change(
            name,
            actor,
            lambda i, now: lifecycle.cancel(i, reason=reason, expected_etag=etag, now=now),
        )

    async def add_note(self, name: str, text: str, actor: Actor) -> Note:
        noted_id = parse_incident_name(name, "parent")
        lifecycle.check_note(text)
        rpc = self.rpc()

        async def work(tx: WriteTx) -> Note:
            now = self.clock()
            change = lifecycle.add_note(await store.load(tx.conn, noted_id), text, now=now)
            note = await store.insert_note(tx.conn, noted_id, text, actor, now)
            await store.save_incident(tx.conn, change.incident)
            store.append_change(tx, change, actor, rpc)
            named = IncidentChanged(change, actor, now, note=note_name(noted_id, note.id))
            self.announce(named)(tx)
            return note

        return await self.batcher.submit(work)

    async def merge(
        self, name: str, duplicates: list[str], reason: str, actor: Actor
    ) -> tuple[Incident, list[Incident]]:
        survivor_id = parse_incident_name(name)
        duplicate_ids = _check_merge(duplicates, reason)
        rpc = self.rpc()

        async def work(tx: WriteTx) -> tuple[Incident, list[Incident]]:
            now = self.clock()
            survivor = await store.load(tx.conn, survivor_id)
            start_version = survivor.version
            merged: list[Incident] = []
            for dup_id in duplicate_ids:
                kept, folded = lifecycle.merge(
                    survivor, await store.load(tx.conn, dup_id), reason=reason, now=now
                )
                survivor = kept.incident
                await store.save_incident(tx.conn, folded.incident)
                store.append_change(tx, folded, actor, rpc)
                store.append_change(tx, kept, actor, rpc)
                self.announce(IncidentChanged(kept, actor, now, duplicate=folded.incident))(tx)
                merged.append(folded.incident)
            # One version check covers the survivor's several bumps.
            await store.save_incident(tx.conn, survivor, expected_version=start_version)
            return survivor, merged

        return await self.batcher.submit(work)

    # The audit of personal data (`icc_incidents.audit`)

    async def record_reads(self, seen: list[tuple[str, tuple[str, ...]]], actor: Actor) -> None:
        """Records that `actor` was answered these incidents' personal fields; returns
        once they are committed (the answer waits for its record)."""
        if not seen:
            return
        now = self.clock()
        rpc = self.rpc()
        records = [audit.record(i, audit.AuditAction.READ, rpc, f, actor, now) for i, f in seen]

        async def work(tx: WriteTx) -> None:
            store.append_audit(tx, records)

        await self.batcher.submit(work)

    async def audit(self, name: str, limit: int, after: int) -> list[audit.AuditRecord]:
        """An incident's audit records, oldest first, after sequence number `after`."""
        found = parse_incident_name(name, "parent")
        async with self.db.read() as conn:
            await store.load(conn, found)
            return await store.list_audit(conn, found, limit, after)

    async def erase_personal_data(self, retention: timedelta, batch: int = 200) -> int:
        """Erases the personal data of incidents that ended more than `retention` ago
        (callers' names and phones, note texts, answers), each erasure recorded; the
        incident's facts stay. Returns how many incidents it erased."""
        erased = 0
        while True:
            now = self.clock()

            async def work(tx: WriteTx, now: datetime = now) -> int:
                due = await store.ended_with_personal_data(tx.conn, now - retention, batch)
                await store.erase_personal_data(tx.conn, [i for i, _ in due])
                store.append_audit(
                    tx,
                    [
                        audit.record(i, audit.AuditAction.ERASE, "", f, audit.RETENTION, now)
                        for i, f in due
                    ],
                )
                return len(due)

            done = await self.batcher.submit(work)
            erased += done
            if done < batch:
                return erased


def _check_merge(duplicates: list[str], reason: str) -> list[str]:
    """The ids of the incidents to merge; InvalidInput naming every bad field."""
    out: list[Violation] = []
    duplicate_ids: list[str] = []
    if not duplicates:
        out.append(Violation("duplicates", "name at least one incident to merge"))
    for n, dup in enumerate(duplicates):
        try:
            duplicate_ids.append(parse_incident_name(dup, f"duplicates[{n}]"))
        except InvalidInput as exc:
            out.extend(exc.violations)
    if len(set(duplicate_ids)) != len(duplicate_ids):
        out.append(Violation("duplicates", "an incident is named twice"))
    if len(reason) > 1000:
        out.append(Violation("reason", "at most 1000 characters"))
    raise_if_any(out)
    return duplicate_ids
