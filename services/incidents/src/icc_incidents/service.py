"""Use cases of the incidents service: validate, change, record, announce.

Each write runs through the `WriteBatcher`, so the incident row, its chronology
entry and its outbox event commit together, and concurrent requests share one
commit.
"""

import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from icc_bus import OutgoingEvent
from icc_incidents import store
from icc_incidents.convert import event_for
from icc_incidents.domain import lifecycle
from icc_incidents.domain.errors import InvalidInput, Violation
from icc_incidents.domain.lifecycle import Change, Draft
from icc_incidents.domain.model import (
    Actor,
    Assignment,
    ChronologyEntry,
    Incident,
    IncidentState,
    Note,
)
from icc_incidents.domain.validation import Rules, check_request_id
from icc_incidents.metrics import record_created, record_progress
from icc_storage import Database, WriteBatcher, WriteTx, add_events, claim_event

RECENT_REQUESTS = 50_000


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_incident_id() -> str:
    return secrets.token_hex(8)


def parse_name(name: str, field: str = "name") -> str:
    prefix, _, incident_id = name.partition("/")
    if prefix != "incidents" or not incident_id or len(incident_id) > 32 or "/" in incident_id:
        raise InvalidInput([Violation(field, f"must be incidents/{{id}}, got {name[:80]!r}")])
    return incident_id


@dataclass
class IncidentService:
    db: Database
    batcher: WriteBatcher
    rules: Rules
    clock: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = new_incident_id
    # request_id -> incident id of creates this process answered recently.
    _recent: OrderedDict[str, str] = field(default_factory=OrderedDict)

    def _record(self, tx: WriteTx, change: Change, actor: Actor, event: OutgoingEvent) -> None:
        self._chronicle(tx, change, actor)
        add_events(tx, store.outbox, [event])

    def _chronicle(self, tx: WriteTx, change: Change, actor: Actor) -> None:
        store.append_chronology(
            tx,
            ChronologyEntry(
                change.incident.id,
                change.incident.version,
                change.incident.update_time,
                actor,
                change.action,
                change.detail,
            ),
        )

    async def create(self, draft: Draft, request_id: str, actor: Actor) -> tuple[Incident, bool]:
        """Returns (incident, replayed); replayed when `request_id` was seen before."""
        out: list[Violation] = []
        check_request_id(request_id, out)
        if out:
            raise InvalidInput(out)
        now = self.clock()
        change = lifecycle.new_incident(
            self.rules, draft, incident_id=self.new_id(), actor=actor, now=now
        )
        event = event_for(change, actor, now)

        known = self._recent.get(request_id) if request_id else None
        if known is not None:
            async with self.db.read() as conn:
                return await store.load(conn, known), True
        # No read before writing: a request id this process has not seen is
        # new almost always, and when it is not (a retry after a restart, or
        # through another replica) the unique request_id refuses the insert.

        async def work(tx: WriteTx) -> tuple[Incident, bool]:
            store.insert_incident(tx, change.incident, request_id)
            self._record(tx, change, actor, event)
            return change.incident, False

        try:
            incident, replayed = await self.batcher.submit(work)
        except IntegrityError:
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
        if not replayed:
            record_created(incident)
        return incident, replayed

    def _remember(self, request_id: str, incident_id: str) -> None:
        self._recent[request_id] = incident_id
        if len(self._recent) > RECENT_REQUESTS:
            self._recent.popitem(last=False)

    async def get(self, name: str) -> Incident:
        incident_id = parse_name(name)
        async with self.db.read() as conn:
            return await store.load(conn, incident_id, with_notes=True)

    async def list_incidents(
        self, flt: store.IncidentFilter, page_size: int, page_token: str
    ) -> tuple[list[Incident], str]:
        async with self.db.read() as conn:
            return await store.list_incidents(conn, flt, page_size, page_token)

    async def chronology(
        self, name: str, page_size: int, page_token: str
    ) -> tuple[list[ChronologyEntry], str]:
        incident_id = parse_name(name, "parent")
        async with self.db.read() as conn:
            await store.load(conn, incident_id)
            return await store.list_chronology(conn, incident_id, page_size, page_token)

    async def _change(
        self,
        name: str,
        actor: Actor,
        apply: Callable[[Incident, datetime], Change],
        field: str = "name",
    ) -> Incident:
        incident_id = parse_name(name, field)

        async def work(tx: WriteTx) -> Incident:
            now = self.clock()
            change = apply(await store.load(tx.conn, incident_id), now)
            await store.save_incident(tx.conn, change.incident)
            self._record(tx, change, actor, event_for(change, actor, now))
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
        incident_id = parse_name(name, "parent")
        lifecycle.check_note(text)

        async def work(tx: WriteTx) -> Note:
            now = self.clock()
            change = lifecycle.add_note(await store.load(tx.conn, incident_id), text, now=now)
            note = await store.insert_note(tx.conn, incident_id, text, actor, now)
            await store.save_incident(tx.conn, change.incident)
            note_name = f"{change.incident.name}/notes/{note.id}"
            self._record(tx, change, actor, event_for(change, actor, now, note=note_name))
            return note

        return await self.batcher.submit(work)

    async def merge(
        self, name: str, duplicates: list[str], reason: str, actor: Actor
    ) -> tuple[Incident, list[Incident]]:
        survivor_id = parse_name(name)
        out: list[Violation] = []
        duplicate_ids: list[str] = []
        if not duplicates:
            out.append(Violation("duplicates", "name at least one incident to merge"))
        for n, dup in enumerate(duplicates):
            try:
                duplicate_ids.append(parse_name(dup, f"duplicates[{n}]"))
            except InvalidInput as exc:
                out.extend(exc.violations)
        if len(set(duplicate_ids)) != len(duplicate_ids):
            out.append(Violation("duplicates", "an incident is named twice"))
        if len(reason) > 1000:
            out.append(Violation("reason", "at most 1000 characters"))
        if out:
            raise InvalidInput(out)

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
                self._chronicle(tx, folded, actor)
                self._chronicle(tx, kept, actor)
                add_events(
                    tx, store.outbox, [event_for(kept, actor, now, duplicate=folded.incident)]
                )
                merged.append(folded.incident)
            # One version check covers the survivor's several bumps.
            await store.save_incident(tx.conn, survivor, expected_version=start_version)
            return survivor, merged

        return await self.batcher.submit(work)

    # Progress reported by dispatch and by units (bus consumers)

    async def apply_dispatch(
        self,
        consumer: str,
        event_id: str,
        incident_id: str,
        updates: tuple[Assignment, ...],
        detail: str,
        actor: Actor,
    ) -> None:
        async def work(tx: WriteTx) -> tuple[Incident, Incident] | None:
            if not await claim_event(tx.conn, store.inbox, consumer, event_id):
                return None
            now = self.clock()
            incident = await store.load(tx.conn, incident_id)
            change = lifecycle.apply_assignments(incident, updates, now=now, detail=detail)
            if change is None:
                return None
            await store.save_incident(tx.conn, change.incident)
            self._record(tx, change, actor, event_for(change, actor, now))
            return incident, change.incident

        # Metrics after the commit: the batcher may run `work` more than once.
        applied = await self.batcher.submit(work)
        if applied is not None:
            record_progress(*applied)

    async def apply_unit_status(
        self,
        consumer: str,
        event_id: str,
        incident_id: str,
        to: IncidentState,
        unit: str,
        actor: Actor,
    ) -> None:
        async with self.db.read() as conn:
            incident = await store.load(conn, incident_id)
        if lifecycle.unit_progress(incident, to, now=self.clock(), unit=unit) is None:
            return  # nothing to do: no write, no inbox entry needed

        async def work(tx: WriteTx) -> tuple[Incident, Incident] | None:
            if not await claim_event(tx.conn, store.inbox, consumer, event_id):
                return None
            now = self.clock()
            current = await store.load(tx.conn, incident_id)
            change = lifecycle.unit_progress(current, to, now=now, unit=unit)
            if change is None:
                return None
            await store.save_incident(tx.conn, change.incident)
            self._record(tx, change, actor, event_for(change, actor, now))
            return current, change.incident

        applied = await self.batcher.submit(work)
        if applied is not None:
            record_progress(*applied)
