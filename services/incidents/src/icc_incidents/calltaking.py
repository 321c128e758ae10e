"""Use cases of call-taking: what intake finds about a call (possible duplicates,
cautions in force, the place's history), further callers, premise cautions and the
answers to key questions.

Like `service.py`, they speak the domain's words: rows go through `nearby.py` and
the `store` package, events through the injected `announce`.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from icc_city.geo import Point
from icc_incidents import nearby, store
from icc_incidents.domain import cautions as caution_rules
from icc_incidents.domain import duplicates, lifecycle
from icc_incidents.domain.cautions import CautionDraft
from icc_incidents.domain.duplicates import CallFacts, DuplicateRules
from icc_incidents.domain.errors import DuplicateRecord
from icc_incidents.domain.events import IncidentChanged
from icc_incidents.domain.lifecycle import Draft, Findings
from icc_incidents.domain.model import (
    Caller,
    Caution,
    Incident,
    KeyAnswer,
    Location,
    PlaceHistory,
    PossibleDuplicate,
)
from icc_incidents.domain.questions import KeyQuestion
from icc_incidents.domain.validation import Rules, check_caller, check_location, check_phone
from icc_incidents.service import parse_incident_name
from icc_kernel.actors import Actor
from icc_kernel.clock import utc_now
from icc_kernel.errors import Violation, raise_if_any
from icc_kernel.requests import request_id_violations
from icc_storage import Database, WriteBatcher, WriteTx

Stage = Callable[[WriteTx], None]
MAX_CAUTIONS_LISTED = 100


@dataclass(frozen=True)
class IntakeSettings:
    """`ICC_DUPLICATE_*` and `ICC_HISTORY_*`: what intake looks for around a call."""

    duplicates: DuplicateRules = field(default_factory=DuplicateRules)
    history_radius_m: float = 100.0
    history_days: int = 30


def check_point(rules: Rules, loc: Location | None, field_name: str) -> Point:
    out: list[Violation] = []
    check_location(rules, loc, field_name, out)
    raise_if_any(out)
    assert loc is not None
    return Point(loc.lat, loc.lon)


@dataclass
class CallTaking:
    db: Database
    batcher: WriteBatcher
    rules: Rules
    announce: Callable[[IncidentChanged], Stage]
    settings: IntakeSettings = IntakeSettings()
    clock: Callable[[], datetime] = utc_now
    # The RPC being answered, for the audit (`IncidentService.rpc`).
    rpc: Callable[[], str] = field(default=lambda: "")
    _family_of: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self._family_of = {t.code: t.family for t in self.rules.catalog.all()}

    # What intake finds

    async def findings(self, draft: Draft, now: datetime) -> Findings:
        """Possible duplicates (unless turned off at intake), cautions in force and the
        place's history, for a draft already checked."""
        assert draft.location is not None
        point = Point(draft.location.lat, draft.location.lon)
        s = self.settings
        async with self.db.read(inline=True) as conn:
            found: tuple[PossibleDuplicate, ...] = ()
            if s.duplicates.at_intake:
                found = await self._duplicates(
                    conn, point, draft.type_code, draft.caller.phone, now
                )
            near = await nearby.cautions_near(conn, point, self._caution_reach(0.0), now)
            history = await self._history(conn, point, now)
        return Findings(found, caution_rules.in_force_at(near, point, now), history)

    async def find_duplicates(
        self, location: Location | None, type_code: str, phone: str
    ) -> tuple[PossibleDuplicate, ...]:
        """While the form fills in: a place, a type and a phone as far as known. Without
        a type every family nearby counts; without a place only the phone does."""
        out: list[Violation] = []
        if location is not None:
            check_location(self.rules, location, "location", out)
        elif not phone:
            out.append(Violation("location", "required unless caller_phone is given"))
        if type_code and type_code not in self.rules.catalog:
            out.append(Violation("type_code", "a code from ListIncidentTypes, or empty"))
        check_phone(phone, "caller_phone", out)
        raise_if_any(out)
        point = Point(location.lat, location.lon) if location is not None else None
        async with self.db.read(inline=True) as conn:
            return await self._duplicates(conn, point, type_code, phone, self.clock())

    async def _duplicates(
        self, conn: object, point: Point | None, type_code: str, phone: str, now: datetime
    ) -> tuple[PossibleDuplicate, ...]:
        rules = self.settings.duplicates
        family = self._family_of[type_code] if type_code else ""
        codes = self.rules.catalog.codes_of_family(family) if family else tuple(self._family_of)
        candidates, same_phone = await nearby.duplicate_candidates(
            conn,  # type: ignore[arg-type]
            point,
            rules.radius_m,
            codes,
            phone,
            now - rules.window,
        )
        call = CallFacts(point, family, duplicates.phone_key(phone))
        return duplicates.find(
            call, candidates, same_phone, family_of=self._family_of, now=now, rules=rules
        )

    # Further callers

    async def add_caller(
        self, name: str, caller: Caller, request_id: str, actor: Actor
    ) -> tuple[Incident, bool]:
        """(incident, replayed): the caller recorded with a chronology line; replayed
        when `request_id` was seen before (nothing added)."""
        incident_id = parse_incident_name(name, "parent")
        out = request_id_violations(request_id)
        check_caller(caller, "caller", out)
        raise_if_any(out)
        if request_id:
            async with self.db.read() as conn:
                known = await nearby.incident_of_caller_request(conn, request_id)
                if known is not None:
                    return await store.load(conn, known, with_notes=True), True
        rpc = self.rpc()

        async def work(tx: WriteTx) -> Incident:
            now = self.clock()
            current = await store.load(tx.conn, incident_id)
            line = caller.call_line or current.call_line
            recorded = Caller(caller.name, caller.phone, caller.language, now, line)
            change = lifecycle.add_caller(current, recorded, now=now)
            nearby.insert_caller(tx, incident_id, recorded, actor, request_id)
            await store.save_incident(tx.conn, change.incident)
            store.append_change(tx, change, actor, rpc)
            self.announce(IncidentChanged(change, actor, now))(tx)
            return change.incident

        try:
            await store.submit_insert(self.batcher, work)
        except DuplicateRecord:
            if not request_id:
                raise
        async with self.db.read() as conn:
            return await store.load(conn, incident_id, with_notes=True), False

    # Premise cautions

    async def create_caution(
        self, draft: CautionDraft, request_id: str, actor: Actor
    ) -> tuple[Caution, bool]:
        raise_if_any(request_id_violations(request_id))
        now = self.clock()
        caution_rules.check(self.rules, draft, now)
        if request_id:
            async with self.db.read() as conn:
                known = await nearby.find_caution(conn, request_id)
            if known is not None:
                return known, True
        caution = caution_rules.new_caution(
            draft, caution_id=secrets.token_hex(8), actor=actor, now=now
        )

        async def work(tx: WriteTx) -> Caution:
            nearby.insert_caution(tx, caution, request_id)
            return caution

        try:
            return await store.submit_insert(self.batcher, work), False
        except DuplicateRecord:
            async with self.db.read() as conn:
                known = await nearby.find_caution(conn, request_id)
            if known is None:
                raise
            return known, True

    async def list_cautions(
        self, location: Location | None, radius_m: float, most: int
    ) -> tuple[Caution, ...]:
        point = check_point(self.rules, location, "near")
        if not 0 <= radius_m <= caution_rules.MAX_RADIUS_M or radius_m != radius_m:
            raise_if_any([Violation("radius_m", "must be between 0 and 2000")])
        now = self.clock()
        async with self.db.read(inline=True) as conn:
            near = await nearby.cautions_near(conn, point, self._caution_reach(radius_m), now)
        return caution_rules.in_force_at(near, point, now, within_m=radius_m)[:most]

    # The place's history

    async def place_history(self, location: Location | None) -> tuple[PlaceHistory, ...]:
        """The earlier incidents near a point by family, as a new incident there would
        count them now (`findings`), for the call form before the call is taken."""
        point = check_point(self.rules, location, "near")
        async with self.db.read(inline=True) as conn:
            return await self._history(conn, point, self.clock())

    async def _history(self, conn: object, point: Point, now: datetime) -> tuple[PlaceHistory, ...]:
        s = self.settings
        since = now - timedelta(days=s.history_days)
        return await nearby.history(
            conn,  # type: ignore[arg-type]
            point,
            s.history_radius_m,
            since,
            s.history_days,
            self._family_of,
        )

    @staticmethod
    def _caution_reach(within_m: float) -> float:
        return caution_rules.MAX_RADIUS_M + caution_rules.SLACK_M + within_m

    # Key questions

    def key_questions(self, type_code: str) -> tuple[KeyQuestion, ...]:
        if type_code not in self.rules.catalog:
            raise_if_any([Violation("type_code", "required: a code from ListIncidentTypes")])
        return self.rules.questions.for_type(type_code)

    async def answer_questions(
        self, name: str, answers: tuple[KeyAnswer, ...], etag: str, actor: Actor
    ) -> Incident:
        incident_id = parse_incident_name(name)
        rpc = self.rpc()

        async def work(tx: WriteTx) -> Incident:
            now = self.clock()
            current = await store.load(tx.conn, incident_id)
            change = lifecycle.answer_questions(
                self.rules, current, answers, expected_etag=etag, now=now
            )
            await store.save_incident(tx.conn, change.incident)
            store.append_change(tx, change, actor, rpc)
            self.announce(IncidentChanged(change, actor, now))(tx)
            return change.incident

        return await self.batcher.submit(work)
