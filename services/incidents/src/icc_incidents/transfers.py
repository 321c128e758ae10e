"""Use cases of the standards' edge: an incident as a NENA EIDO document, and a call
transferred in as one (a partner's system, or a 112 center handing a call to 113/114/115).

A transferred call becomes an incident once per document id: the first document creates it
(with its notes and the link to the sender's incident, in one transaction), a later one
with a newer `lastUpdateTimeStamp` updates it, an older or equal one changes nothing. The
protobuf stays in `api/`, the mapping in `eido/`.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from icc_incidents import store
from icc_incidents.domain import lifecycle
from icc_incidents.domain.lifecycle import Draft
from icc_incidents.domain.lines import LINE_OF_AGENCY
from icc_incidents.domain.model import Incident, Location
from icc_incidents.domain.validation import Rules
from icc_incidents.eido import parse, schema
from icc_incidents.eido.export import SenderLink, to_eido
from icc_incidents.places import PlaceSearch
from icc_incidents.service import IncidentService
from icc_kernel.actors import Actor
from icc_kernel.clock import utc_now
from icc_kernel.errors import InvalidInput, Violation
from icc_kernel.names import name_of
from icc_kernel.vocabulary import CallLine
from icc_storage import Database, WriteBatcher, WriteTx

MAX_DOCUMENT = 1 << 20
F = "document"
# Where a rule on the incident as read points in the document.
_FIELD_IN_DOCUMENT = {
    "incident.type_code": f"{F}.incidentComponent.incidentTypeInternalCode",
    "incident.caller": f"{F}.personComponent",
    "incident.description": f"{F}.notesComponent",
}
UPDATED_FIELDS = ("type_code", "priority", "location", "description", "caller")


def decode(text: str) -> dict[str, Any]:
    """The document, checked against NENA's schema; InvalidInput naming each bad path."""
    if len(text.encode("utf-8")) > MAX_DOCUMENT:
        raise InvalidInput.one(F, f"at most {MAX_DOCUMENT} bytes")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidInput.one(F, f"not JSON: {str(exc)[:120]}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput.one(F, "an EIDO document is a JSON object")
    found = schema.violations(doc, F)
    if found:
        raise InvalidInput(found)
    return doc


def request_id_of(document_id: str) -> str:
    """The create's request id: one incident per document id, even from two replicas."""
    return "eido:" + hashlib.sha256(document_id.encode("utf-8")).hexdigest()[:48]


@dataclass(frozen=True)
class Imported:
    incident: Incident
    created: bool
    replayed: bool


@dataclass
class EidoExchange:
    service: IncidentService
    db: Database
    batcher: WriteBatcher
    rules: Rules
    places: PlaceSearch
    clock: Callable[[], datetime] = utc_now

    async def export(self, incident: Incident, *, personal_data: bool) -> dict[str, Any]:
        async with self.db.read() as conn:
            links = await store.links_of(conn, incident.id)
            absorbed = await store.absorbed_into(conn, incident.name)
        return to_eido(
            incident,
            self.rules.catalog.get(incident.type_code),
            personal_data=personal_data,
            senders=tuple(SenderLink(*link) for link in links),
            absorbed=tuple(absorbed),
        )

    async def import_document(
        self,
        text: str,
        actor: Actor,
        *,
        may_create: Callable[[Draft], Draft],
        may_change: Callable[[Incident], None],
    ) -> Imported:
        """`may_create`: the caller's scope on a new incident (may add its agency and
        line); `may_change`: Forbidden unless the caller sees the linked incident."""
        doc = decode(text)
        now = self.clock()
        transfer = parse.read(doc, self.rules.catalog, now)
        draft = await self._placed(transfer)
        if draft.call_line is None and transfer.from_psap:
            # A PSAP handed the call over: it came in on the line the receiver answers
            # (the command center 112, the police 113...), as if answered here.
            line = LINE_OF_AGENCY.get(actor.agency, CallLine.PARTNER)
            draft = replace(draft, call_line=line)
        async with self.db.read() as conn:
            known = await store.find_link(conn, transfer.document_id)
        if known is not None:
            return await self._update(transfer, draft, known, actor, may_change)
        draft = may_create(draft)
        _check(self.rules, draft)

        async def also(tx: WriteTx, incident: Incident) -> None:
            store.add_link(
                tx,
                document_id=transfer.document_id,
                incident_id=incident.id,
                sender_agency=transfer.sender_agency,
                sender_internal_id=transfer.sender_internal_id,
                last_update=transfer.last_update,
                now=now,
            )
            store.add_notes(tx, incident.id, transfer.notes, actor, now)

        incident, replayed = await self.service.create(
            draft, request_id_of(transfer.document_id), actor, also=also
        )
        return Imported(incident, created=not replayed, replayed=replayed)

    async def _placed(self, transfer: parse.Transfer) -> Draft:
        """The draft with its location: a civic address without a point looked up."""
        draft = transfer.draft
        if draft.location is not None:
            return draft
        found = await self.places.search(transfer.place_query[:200], None, 1)
        if not found:
            raise InvalidInput.one(
                f"{F}.locationComponent",
                f"no place in Ho Chi Minh City matches the civic address "
                f"{transfer.place_query[:120]!r}; send a point",
            )
        place = found[0].location
        location = Location(
            place.lat,
            place.lon,
            transfer.place_query.split(", ")[0] if transfer.place_query else place.address,
            transfer.place_ward or place.ward,
        )
        return replace(draft, location=location)

    async def _update(
        self,
        transfer: parse.Transfer,
        draft: Draft,
        known: tuple[str, datetime],
        actor: Actor,
        may_change: Callable[[Incident], None],
    ) -> Imported:
        incident_id, last = known
        current = await self.service.get(name_of("incidents", incident_id))
        may_change(current)
        if transfer.last_update <= last:
            return Imported(current, created=False, replayed=True)
        _check(self.rules, replace(draft, type_code=draft.type_code or current.type_code))
        rpc = self.service.rpc()

        async def work(tx: WriteTx) -> Incident:
            now = self.clock()
            incident = await store.load(tx.conn, incident_id, with_notes=True)
            mask = [f for f in UPDATED_FIELDS if _changed(f, transfer, draft, incident)]
            if mask:
                change = lifecycle.update(
                    self.rules, incident, draft, mask, expected_etag=incident.etag, now=now
                )
                await store.save_incident(tx.conn, change.incident)
                self.service.record(tx, change, actor, now, rpc)
                incident = change.incident
            seen = {n.text for n in incident.notes}
            for text in transfer.notes:
                if text in seen:
                    continue
                seen.add(text)
                change = lifecycle.add_note(incident, text, now=now)
                await store.insert_note(tx.conn, incident_id, text, actor, now)
                await store.save_incident(tx.conn, change.incident)
                self.service.record(tx, change, actor, now, rpc)
                incident = change.incident
            await store.touch_link(tx.conn, transfer.document_id, transfer.last_update)
            return incident

        updated = await self.batcher.submit(work)
        return Imported(updated, created=False, replayed=False)


def _changed(field: str, transfer: parse.Transfer, draft: Draft, incident: Incident) -> bool:
    if field == "type_code" and not transfer.typed:
        return False  # a call-taker's classification stands
    if field == "priority" and draft.priority is None:
        return False
    if field == "caller" and not (draft.caller.name or draft.caller.phone):
        return False
    if field == "caller":
        c = incident.caller
        return (c.name, c.phone, c.language) != (
            draft.caller.name,
            draft.caller.phone,
            draft.caller.language,
        )
    return bool(getattr(draft, field) != getattr(incident, field))


def _check(rules: Rules, draft: Draft) -> None:
    """The incident rules, their fields named where the document holds them."""
    try:
        lifecycle.check_new(rules, draft)
    except InvalidInput as exc:
        raise InvalidInput(
            [
                Violation(_in_document(v.field), f"{v.description} (read as {v.field})")
                for v in exc.violations
            ]
        ) from exc


def _in_document(field: str) -> str:
    if field.startswith("incident.location"):
        return f"{F}.locationComponent"
    for prefix, path in _FIELD_IN_DOCUMENT.items():
        if field.startswith(prefix):
            return path
    return F
