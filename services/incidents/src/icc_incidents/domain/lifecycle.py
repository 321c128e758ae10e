"""Creating and changing incidents: the state machine and the update rules.

Every function takes the current incident and returns the changed copy inside a
`Change` (what the chronology records and what the events announce); nothing
here performs I/O.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime

from icc_incidents.domain import validation as v
from icc_incidents.domain.lines import default_line
from icc_incidents.domain.model import (
    Assignment,
    Caller,
    Caution,
    ChronologyEntry,
    Incident,
    KeyAnswer,
    Location,
    PlaceHistory,
    PossibleDuplicate,
)
from icc_incidents.domain.questions import merged
from icc_kernel.actors import Actor
from icc_kernel.errors import (
    IllegalTransition,
    InvalidInput,
    StaleEtag,
    Violation,
    raise_if_any,
)
from icc_kernel.reasons import Reason, ReasonCode, english
from icc_kernel.vocabulary import Agency, AssignmentState, CallLine, IncidentState, Priority

S = IncidentState
R = ReasonCode

# Forward moves only; a unit may report on scene without an en-route report.
TRANSITIONS: dict[IncidentState, frozenset[IncidentState]] = {
    S.NEW: frozenset({S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE, S.CLOSED, S.CANCELLED, S.MERGED}),
    S.DISPATCHED: frozenset({S.EN_ROUTE, S.ON_SCENE, S.CLOSED, S.CANCELLED, S.MERGED}),
    S.EN_ROUTE: frozenset({S.ON_SCENE, S.CLOSED, S.CANCELLED, S.MERGED}),
    S.ON_SCENE: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.MERGED: frozenset(),
    S.CANCELLED: frozenset(),
}

UPDATABLE_FIELDS = frozenset(
    {"type_code", "priority", "location", "agencies", "caller", "description", "exercise"}
)


@dataclass(frozen=True)
class Draft:
    """What a call-taker or partner supplies for a new incident."""

    type_code: str
    location: Location | None
    priority: Priority | None = None
    agencies: tuple[Agency, ...] = ()
    caller: Caller = field(default_factory=Caller)
    description: str = ""
    exercise: bool = False
    # Unset: the actor's line (`lines.default_line`).
    call_line: CallLine | None = None
    answers: tuple[KeyAnswer, ...] = ()


@dataclass(frozen=True)
class Findings:
    """What intake found about a new call's place and caller (read before the write)."""

    possible_duplicates: tuple[PossibleDuplicate, ...] = ()
    cautions: tuple[Caution, ...] = ()
    history: tuple[PlaceHistory, ...] = ()


@dataclass(frozen=True)
class Change:
    """An incident as a change left it, and what the change was (`action`: the event's
    name, `reasons`: what the chronology records, `fields`: what an update changed)."""

    incident: Incident
    action: str
    reasons: tuple[Reason, ...]
    fields: tuple[str, ...] = ()
    previous_state: IncidentState | None = None

    @property
    def detail(self) -> str:
        return english(self.reasons)

    def entry(self, actor: Actor) -> ChronologyEntry:
        """The change as the incident's chronology records it (its version is the sequence)."""
        i = self.incident
        return ChronologyEntry(i.id, i.version, i.update_time, actor, self.action, self.reasons)


def check_transition(incident: Incident, to: IncidentState) -> None:
    if to not in TRANSITIONS[incident.state]:
        allowed = ", ".join(sorted(s.name for s in TRANSITIONS[incident.state])) or "nothing"
        raise IllegalTransition(
            f"{incident.name} is {incident.state.name} and cannot become {to.name} "
            f"(from {incident.state.name} it can become: {allowed})"
        )


def check_etag(incident: Incident, expected: str) -> None:
    if expected and expected != incident.etag:
        raise StaleEtag(incident.name, expected, incident.etag)


def _check_draft(rules: v.Rules, d: Draft, prefix: str, out: list[Violation]) -> None:
    v.check_type_code(rules, d.type_code, f"{prefix}type_code", out)
    v.check_location(rules, d.location, f"{prefix}location", out)
    v.check_caller(d.caller, f"{prefix}caller", out)
    v.check_length(d.description, v.MAX_DESCRIPTION, f"{prefix}description", out)


def check_new(rules: v.Rules, draft: Draft) -> None:
    """Input checks of a new incident (InvalidInput naming every bad field)."""
    out: list[Violation] = []
    _check_draft(rules, draft, "incident.", out)
    if draft.type_code in rules.catalog:
        rules.questions.check(draft.type_code, draft.answers, "incident.answers", out)
    raise_if_any(out)


def new_incident(
    rules: v.Rules,
    draft: Draft,
    *,
    incident_id: str,
    actor: Actor,
    now: datetime,
    found: Findings = Findings(),
) -> Change:
    """A new incident: the answers' outcome sets the type and priority unless the
    call-taker set a priority; the line defaults to the actor's."""
    check_new(rules, draft)
    outcome = rules.questions.outcome(draft.answers)
    kind = rules.catalog.get(outcome.type_code or draft.type_code)
    assert kind is not None
    assert draft.location is not None
    line = draft.call_line or default_line(actor)
    incident = Incident(
        id=incident_id,
        type_code=kind.code,
        priority=draft.priority or outcome.priority or kind.default_priority,
        state=S.NEW,
        location=draft.location,
        agencies=_unique(draft.agencies or kind.agencies),
        caller=replace(draft.caller, call_time=now, call_line=line),
        description=draft.description,
        exercise=draft.exercise,
        created_by=actor,
        create_time=now,
        update_time=now,
        call_line=line,
        possible_duplicates=found.possible_duplicates,
        cautions=found.cautions,
        history=found.history,
        answers=draft.answers,
        instructions=outcome.instructions,
    )
    said = [Reason.of(R.CREATED, type_code=kind.code, priority=incident.priority, call_line=line)]
    if draft.exercise:
        said.append(Reason(R.EXERCISE))
    said.extend(
        Reason.of(R.POSSIBLE_DUPLICATE_OF, incident=d.incident) for d in found.possible_duplicates
    )
    if found.cautions:
        said.append(Reason.of(R.CAUTIONS_AT_PLACE, count=len(found.cautions)))
    return Change(incident, "created", tuple(said))


def add_caller(incident: Incident, caller: Caller, *, now: datetime) -> Change:
    """Another caller about the incident's event: recorded, nothing else changes (no
    dispatch). An ended incident still takes the call; a merged one sends it on."""
    if incident.state is S.MERGED:
        raise IllegalTransition(
            f"{incident.name} was merged into {incident.merged_into}; add the caller there"
        )
    count = incident.caller_count + 1
    line = caller.call_line or incident.call_line
    return Change(
        incident.bumped(now, caller_count=count),
        "updated",
        # The caller's details are personal data: the chronology counts them only.
        (Reason.of(R.CALLER_ADDED, call_line=line, caller_count=count),),
        ("caller_count",),
    )


def answer_questions(
    rules: v.Rules,
    incident: Incident,
    answers: tuple[KeyAnswer, ...],
    *,
    expected_etag: str,
    now: datetime,
) -> Change:
    """Answers recorded; their outcome over every answer so far sets the priority and
    may change the type (the new type's agencies join)."""
    check_answers(rules, incident.type_code, answers)
    check_etag(incident, expected_etag)
    if incident.state.terminal:
        raise IllegalTransition(f"{incident.name} is {incident.state.name} and cannot be changed")
    every = merged(incident.answers, answers)
    outcome = rules.questions.outcome(every)
    changes: dict[str, object] = {"answers": every, "instructions": outcome.instructions}
    if outcome.priority is not None:
        changes["priority"] = outcome.priority
    kind = rules.catalog.get(outcome.type_code)
    if kind is not None:
        changes["type_code"] = kind.code
        changes["agencies"] = _unique((*incident.agencies, *kind.agencies))
    changes = {k: val for k, val in changes.items() if getattr(incident, k) != val}
    said = [Reason.of(R.QUESTION_ANSWERED, question=a.question, answer=a.answer) for a in answers]
    if "type_code" in changes:
        said.append(
            Reason.of(R.TYPE_CHANGED, before=incident.type_code, after=changes["type_code"])
        )
    if "priority" in changes and outcome.priority is not None:
        said.append(Reason.of(R.PRIORITY_CHANGED, before=incident.priority, after=outcome.priority))
    return Change(incident.bumped(now, **changes), "updated", tuple(said), tuple(sorted(changes)))


def check_answers(rules: v.Rules, type_code: str, answers: tuple[KeyAnswer, ...]) -> None:
    out: list[Violation] = []
    if not answers:
        out.append(Violation("answers", "answer at least one key question"))
    rules.questions.check(type_code, answers, "answers", out)
    raise_if_any(out)


def check_update(rules: v.Rules, patch: Draft, mask: list[str], expected_etag: str) -> None:
    """Input checks of `update` that need no stored state."""
    out: list[Violation] = []
    if not mask:
        out.append(Violation("update_mask", "name at least one field to update"))
    for path in mask:
        if path not in UPDATABLE_FIELDS:
            allowed = ", ".join(sorted(UPDATABLE_FIELDS))
            out.append(Violation("update_mask", f"{path!r} cannot be updated; allowed: {allowed}"))
    if not expected_etag:
        out.append(Violation("incident.etag", "required: the etag from the incident you read"))
    if "type_code" in mask:
        v.check_type_code(rules, patch.type_code, "incident.type_code", out)
    if "location" in mask:
        v.check_location(rules, patch.location, "incident.location", out)
    if "caller" in mask:
        v.check_caller(patch.caller, "incident.caller", out)
    if "description" in mask:
        v.check_length(patch.description, v.MAX_DESCRIPTION, "incident.description", out)
    if "priority" in mask and patch.priority is None:
        out.append(Violation("incident.priority", "required: P1 to P4"))
    if "agencies" in mask and not patch.agencies:
        out.append(Violation("incident.agencies", "at least one agency"))
    raise_if_any(out)


def update(
    rules: v.Rules,
    incident: Incident,
    patch: Draft,
    mask: list[str],
    *,
    expected_etag: str,
    now: datetime,
) -> Change:
    check_update(rules, patch, mask, expected_etag)
    check_etag(incident, expected_etag)
    if incident.state.terminal:
        raise IllegalTransition(f"{incident.name} is {incident.state.name} and cannot be changed")
    changes: dict[str, object] = {}
    for path in mask:
        value = getattr(patch, path)
        if path == "agencies":
            value = _unique(value)
        if getattr(incident, path) != value:
            changes[path] = value
    fields = tuple(sorted(changes))
    updated = incident.bumped(now, **changes)
    # The caller's details are personal data: the chronology says only that they changed.
    return Change(updated, "updated", _changed(incident, updated, fields), fields)


def _changed(before: Incident, after: Incident, fields: tuple[str, ...]) -> tuple[Reason, ...]:
    """What an update changed: a type or a priority from what to what, another field by
    its name only."""
    if not fields:
        return (Reason(R.NOTHING_CHANGED),)
    out = []
    for f in fields:
        if f == "type_code":
            out.append(Reason.of(R.TYPE_CHANGED, before=before.type_code, after=after.type_code))
        elif f == "priority":
            out.append(Reason.of(R.PRIORITY_CHANGED, before=before.priority, after=after.priority))
        else:
            out.append(Reason.of(R.FIELD_CHANGED, field=f))
    return tuple(out)


def advance(
    incident: Incident, to: IncidentState, *, now: datetime, said: tuple[Reason, ...] = ()
) -> Change:
    """Progress driven by dispatch: DISPATCHED, EN_ROUTE, ON_SCENE (`said`: what caused
    it, before the change of state in the chronology)."""
    if to not in (S.DISPATCHED, S.EN_ROUTE, S.ON_SCENE):
        raise IllegalTransition(f"{to.name} is not reached by progress; use its own method")
    check_transition(incident, to)
    changes: dict[str, object] = {"state": to}
    if incident.first_dispatch_time is None:
        changes["first_dispatch_time"] = now
    if to == S.ON_SCENE and incident.first_on_scene_time is None:
        changes["first_on_scene_time"] = now
    moved = Reason.of(R.STATE_CHANGED, before=incident.state, after=to)
    return Change(
        incident.bumped(now, **changes),
        "state_changed",
        (*said, moved),
        previous_state=incident.state,
    )


def close(incident: Incident, *, resolution: str, expected_etag: str, now: datetime) -> Change:
    out: list[Violation] = []
    v.check_length(resolution, v.MAX_REASON, "resolution", out)
    raise_if_any(out)
    said = Reason.of(R.CLOSED, resolution=resolution)
    return _end(incident, S.CLOSED, resolution, expected_etag=expected_etag, now=now, said=said)


def cancel(incident: Incident, *, reason: str, expected_etag: str, now: datetime) -> Change:
    out: list[Violation] = []
    v.check_length(reason, v.MAX_REASON, "reason", out)
    if not reason.strip():
        out.append(Violation("reason", "required: why no response is needed"))
    raise_if_any(out)
    said = Reason.of(R.CANCELLED, reason=reason)
    return _end(incident, S.CANCELLED, reason, expected_etag=expected_etag, now=now, said=said)


def _end(
    incident: Incident,
    to: IncidentState,
    text: str,
    *,
    expected_etag: str,
    now: datetime,
    said: Reason,
) -> Change:
    """Closing or cancelling: the incident ends with `text` as its resolution."""
    check_etag(incident, expected_etag)
    check_transition(incident, to)
    action = to.name.lower()  # "closed", "cancelled"
    _require_released(incident, action)
    return Change(
        incident.bumped(now, state=to, close_time=now, resolution=text),
        action,
        (said,),
        previous_state=incident.state,
    )


def merge(
    survivor: Incident, duplicate: Incident, *, reason: str, now: datetime
) -> tuple[Change, Change]:
    """Fold `duplicate` into `survivor`; returns (survivor's change, duplicate's change)."""
    if survivor.id == duplicate.id:
        raise InvalidInput.one("duplicates", "an incident cannot be merged into itself")
    if survivor.state.terminal:
        raise IllegalTransition(
            f"{survivor.name} is {survivor.state.name}; merge into an open incident"
        )
    check_transition(duplicate, S.MERGED)
    _require_released(duplicate, "merged")
    agencies = _unique((*survivor.agencies, *duplicate.agencies))
    priority = min(survivor.priority, duplicate.priority)
    kept = survivor.bumped(now, agencies=agencies, priority=Priority(priority))
    folded = duplicate.bumped(now, state=S.MERGED, merged_into=survivor.name, close_time=now)
    absorbed = Reason.of(R.ABSORBED, incident=duplicate.name, reason=reason)
    merged_into = Reason.of(R.MERGED_INTO, incident=survivor.name, reason=reason)
    return (
        Change(kept, "merged", (absorbed,)),
        Change(folded, "merged", (merged_into,), previous_state=duplicate.state),
    )


def check_note(text: str) -> None:
    out: list[Violation] = []
    if not text.strip():
        out.append(Violation("text", "required: the note's text"))
    v.check_length(text, v.MAX_NOTE, "text", out)
    raise_if_any(out)


def add_note(incident: Incident, text: str, *, now: datetime) -> Change:
    check_note(text)
    if incident.state in (S.MERGED,):
        raise IllegalTransition(
            f"{incident.name} was merged into {incident.merged_into}; add the note there"
        )
    # The note's text may hold medical details: the chronology records only that it was added.
    said = Reason.of(R.NOTE_ADDED, characters=len(text))
    return Change(incident.bumped(now), "note_added", (said,))


def _require_released(incident: Incident, verb: str) -> None:
    active = incident.active_assignments
    if active:
        units = ", ".join(a.call_sign or a.unit for a in active)
        raise IllegalTransition(
            f"{incident.name} cannot be {verb} while units are assigned ({units}); "
            "release them first"
        )


def _unique(agencies: tuple[Agency, ...]) -> tuple[Agency, ...]:
    return tuple(dict.fromkeys(agencies))


def apply_assignments(
    incident: Incident, updates: tuple[Assignment, ...], *, now: datetime, said: tuple[Reason, ...]
) -> Change | None:
    """Assignments as dispatch reports them; an assignment never moves backwards
    (a late `assigned` after `released` changes nothing). None when nothing changed."""
    current = {a.name: a for a in incident.assignments}
    changed = False
    for update_ in updates:
        known = current.get(update_.name)
        if known is not None and update_.state <= known.state:
            continue
        current[update_.name] = update_
        changed = True
    if not changed:
        return None
    assignments = tuple(current.values())
    dispatched = incident.state is S.NEW and any(
        a.state in (AssignmentState.ASSIGNED, AssignmentState.ACKNOWLEDGED) for a in assignments
    )
    if dispatched:
        moved = advance(incident, S.DISPATCHED, now=now, said=said)
        return replace(moved, incident=replace(moved.incident, assignments=assignments))
    return Change(incident.bumped(now, assignments=assignments), "updated", said, ("assignments",))


def unit_progress(
    incident: Incident, to: IncidentState, *, now: datetime, unit: str
) -> Change | None:
    """A unit of the incident reports en route or on scene: the incident follows,
    forward only (the first unit on scene puts the incident on scene)."""
    if to not in TRANSITIONS[incident.state] or incident.state.terminal:
        return None
    if to is S.EN_ROUTE and incident.state not in (S.NEW, S.DISPATCHED):
        return None
    return advance(incident, to, now=now, said=(Reason.of(R.UNIT_REPORTED, unit=unit, status=to),))
