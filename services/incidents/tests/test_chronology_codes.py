"""The chronology in codes: each change says what happened as reasons with parameters
(the English beside them is made from them), and an entry from before the codes reads
back as its words."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from icc_incidents.domain import lifecycle
from icc_incidents.domain.lifecycle import Draft, Findings
from icc_incidents.domain.model import (
    Assignment,
    Caller,
    Caution,
    ChronologyEntry,
    Incident,
    Location,
    PossibleDuplicate,
)
from icc_incidents.main import load_rules
from icc_incidents.store import (
    append_chronology,
    chronology,
    insert_incident,
    list_chronology,
    metadata,
)
from icc_kernel.actors import Actor
from icc_kernel.reasons import Reason, ReasonCode
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CallLine,
    CautionKind,
    DuplicateReason,
    EtaSource,
    IncidentState,
    Priority,
)
from icc_storage import Database, WriteBatcher, WriteTx

RULES = load_rules()
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
ACTOR = Actor("calltaker-7", Agency.FIRE, "call-taker")
PLACE = Location(10.7725, 106.698)
R = ReasonCode
S = IncidentState


def new(**kw: object) -> Incident:
    draft = Draft(type_code="FIRE.STRUCTURE", location=PLACE, **kw)  # type: ignore[arg-type]
    return lifecycle.new_incident(RULES, draft, incident_id="i1", actor=ACTOR, now=NOW).incident


def test_creation_says_type_priority_line_and_what_intake_found() -> None:
    dup = PossibleDuplicate(
        "incidents/i0", (DuplicateReason.NEARBY,), 40.0, "FIRE.STRUCTURE", S.NEW, NOW, "…"
    )
    gas = Caution("c1", CautionKind.HAZARDOUS_MATERIALS, "gas", PLACE, 20.0, NOW, ACTOR, NOW)
    draft = Draft(type_code="FIRE.STRUCTURE", location=PLACE, exercise=True)
    change = lifecycle.new_incident(
        RULES,
        draft,
        incident_id="i1",
        actor=ACTOR,
        now=NOW,
        found=Findings(possible_duplicates=(dup,), cautions=(gas,)),
    )
    assert change.reasons == (
        Reason.of(R.CREATED, type_code="FIRE.STRUCTURE", priority="P1", call_line="FIRE_114"),
        Reason(R.EXERCISE),
        Reason.of(R.POSSIBLE_DUPLICATE_OF, incident="incidents/i0"),
        Reason.of(R.CAUTIONS_AT_PLACE, count=1),
    )
    assert change.detail == (
        "FIRE.STRUCTURE P1, line FIRE_114; exercise; possible duplicate of incidents/i0; "
        "1 caution(s) at the place"
    )
    entry = change.entry(ACTOR)
    assert entry.reasons == change.reasons and entry.detail == change.detail


def test_updates_say_from_what_to_what_and_name_other_fields_only() -> None:
    incident = new(caller=Caller("Trần Thị Bí Mật", "0909123456"))
    patch = Draft(
        type_code="FIRE.HIGH_RISE",
        location=PLACE,
        priority=Priority.P2,
        caller=Caller("Lê Văn Khác", "0911222333"),
    )
    change = lifecycle.update(
        RULES,
        incident,
        patch,
        ["type_code", "priority", "caller"],
        expected_etag=incident.etag,
        now=NOW,
    )
    assert change.reasons == (
        Reason.of(R.FIELD_CHANGED, field="caller"),
        Reason.of(R.PRIORITY_CHANGED, before="P1", after="P2"),
        Reason.of(R.TYPE_CHANGED, before="FIRE.STRUCTURE", after="FIRE.HIGH_RISE"),
    )
    assert "Lê Văn" not in str(change.reasons) and "0911" not in str(change.reasons)
    same = lifecycle.update(
        RULES,
        incident,
        Draft("", None, description=""),
        ["description"],
        expected_etag=incident.etag,
        now=NOW,
    )
    assert same.reasons == (Reason(R.NOTHING_CHANGED),)


def test_notes_callers_merges_and_ends_in_codes() -> None:
    incident = new()
    note = lifecycle.add_note(incident, "bệnh nhân tiểu đường", now=NOW)
    assert note.reasons == (Reason.of(R.NOTE_ADDED, characters=20),)
    caller = lifecycle.add_caller(incident, Caller(call_line=CallLine.POLICE_113), now=NOW)
    assert caller.reasons == (Reason.of(R.CALLER_ADDED, call_line="POLICE_113", caller_count=2),)
    other = lifecycle.new_incident(
        RULES,
        Draft(type_code="FIRE.STRUCTURE", location=PLACE),
        incident_id="i2",
        actor=ACTOR,
        now=NOW,
    ).incident
    kept, folded = lifecycle.merge(incident, other, reason="same fire", now=NOW)
    assert kept.reasons == (Reason.of(R.ABSORBED, incident="incidents/i2", reason="same fire"),)
    assert folded.reasons == (
        Reason.of(R.MERGED_INTO, incident="incidents/i1", reason="same fire"),
    )
    closed = lifecycle.close(incident, resolution="", expected_etag="", now=NOW)
    assert closed.reasons == (Reason(R.CLOSED),) and closed.detail == "closed"
    cancelled = lifecycle.cancel(incident, reason="prank", expected_etag="", now=NOW)
    assert cancelled.reasons == (Reason.of(R.CANCELLED, reason="prank"),)


def test_dispatch_and_units_move_the_incident_with_codes() -> None:
    incident = new()
    assigned = Assignment(
        "assignments/a1",
        "units/E1",
        "E-1",
        Agency.FIRE,
        AssignmentState.ASSIGNED,
        NOW,
        eta_s=229,
        distance_m=2712,
        eta_source=EtaSource.TRAVEL_MODEL,
    )
    said = (Reason.of(R.ASSIGNED_AUTOMATICALLY, units="E-1"),)
    change = lifecycle.apply_assignments(incident, (assigned,), now=NOW, said=said)
    assert change is not None
    assert change.reasons == (*said, Reason.of(R.STATE_CHANGED, before="NEW", after="DISPATCHED"))
    assert change.detail == "assigned automatically: E-1; NEW -> DISPATCHED"
    assert change.incident.assignments == (assigned,)
    moving = lifecycle.unit_progress(change.incident, S.EN_ROUTE, now=NOW, unit="E-1")
    assert moving is not None
    assert moving.reasons == (
        Reason.of(R.UNIT_REPORTED, unit="E-1", status="EN_ROUTE"),
        Reason.of(R.STATE_CHANGED, before="DISPATCHED", after="EN_ROUTE"),
    )


async def test_entries_are_stored_with_their_codes_and_old_ones_read_as_words(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'incidents.db'}")
    async with db.write() as conn:
        await conn.run_sync(metadata.create_all)
    batcher = WriteBatcher(db)
    batcher.start()
    incident = new()
    noted = lifecycle.add_note(incident, "rain", now=NOW + timedelta(seconds=1))

    async def work(tx: WriteTx) -> None:
        insert_incident(tx, incident, None)
        # An entry written before the codes: its words only.
        old = {
            "incident_id": "i1",
            "sequence": 1,
            "time": NOW,
            "actor_user": "u",
            "actor_agency": 4,
            "actor_role": "system",
            "action": "created",
            "detail": "FIRE.STRUCTURE P1, line OTHER",
            "coded": "",
        }
        tx.add(chronology, [old])
        append_chronology(tx, noted.entry(ACTOR))

    try:
        await batcher.submit(work)
        async with db.read() as conn:
            old, coded = await list_chronology(conn, "i1", 10, 0)
        assert isinstance(old, ChronologyEntry)
        assert old.reasons == (Reason.of(R.TEXT, text="FIRE.STRUCTURE P1, line OTHER"),)
        assert old.detail == "FIRE.STRUCTURE P1, line OTHER"
        assert coded.reasons == (Reason.of(R.NOTE_ADDED, characters=4),)
        assert coded.detail == "note added (4 characters)"
    finally:
        await batcher.stop()
        await db.dispose()
