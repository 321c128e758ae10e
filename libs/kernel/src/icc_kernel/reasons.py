"""Reasons: facts stated as a stable code with parameters, for a screen to put into the
reader's language (`icc.common.v1.Reason`).

Dispatch says with them why a unit is recommended, why a role is unfilled and why an
assignment ended; the incidents service says what each chronology entry records. The
English the services still write for older clients (`english`) is made from them, so the
codes are the one truth. `CODES` lists each code's parameter keys; docs/codes.md, which
the screen's translators read, is checked against it.

Parameter values are text (see `Reason.of`): numbers in digits, enum members by name,
lists joined by commas, resources by name, units by call sign.
"""

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum

from icc_kernel.names import id_of


class ReasonCode(IntEnum):
    # icc.common.v1.ReasonCode. Why a unit is recommended:
    KIND_AS_PLANNED = 1
    KIND_IN_PLACE_OF = 2
    ETA = 3
    CROSSES_RIVER = 4
    STATION_KEEPS = 5
    STATION_LEFT_WITHOUT = 6
    BEYOND_MUTUAL_AID_ETA = 7
    STANDS_IN = 8
    CHOSEN_BY_DISPATCHER = 9
    OUTSIDE_PLAN = 10
    NO_ROUTE = 11
    ESCALATED_HERE_BEFORE = 12
    # Why a role of the plan is unfilled:
    NO_UNIT_AVAILABLE = 30
    AWAITING_DISPATCHER = 31
    WAITING_FOR_UNITS = 32
    NOT_YET_ASSIGNED = 33
    # Why an assignment ended:
    RELEASED_BY_DISPATCHER = 40
    NOT_ACKNOWLEDGED_IN_TIME = 41
    INCIDENT_ENDED = 42
    UNIT_REPORTED_STATUS = 43
    # What a chronology entry records:
    CREATED = 100
    EXERCISE = 101
    POSSIBLE_DUPLICATE_OF = 102
    CAUTIONS_AT_PLACE = 103
    CALLER_ADDED = 104
    QUESTION_ANSWERED = 105
    TYPE_CHANGED = 106
    PRIORITY_CHANGED = 107
    FIELD_CHANGED = 108
    NOTHING_CHANGED = 109
    STATE_CHANGED = 110
    UNIT_REPORTED = 111
    CLOSED = 112
    CANCELLED = 113
    ABSORBED = 114
    MERGED_INTO = 115
    NOTE_ADDED = 116
    ASSIGNED_AUTOMATICALLY = 117
    ASSIGNED_BY_DISPATCHER = 118
    ACKNOWLEDGED = 119
    ESCALATED = 120
    RELEASED = 121
    TEXT = 122


R = ReasonCode
Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    # Sorted by key, so equal reasons compare equal.
    params: Params = ()

    @classmethod
    def of(cls, code: ReasonCode, **params: object) -> "Reason":
        """The reason with its parameters as text: an enum member by its name, anything
        else by `str`; None and "" are left out (an optional parameter not given)."""
        out = []
        for key in sorted(params):
            value = params[key]
            if value is None or value == "":
                continue
            # (`_name_`: a plain attribute; `name` is a slower descriptor.)
            out.append((key, value._name_ if isinstance(value, Enum) else str(value)))
        return cls(code, tuple(out))

    def get(self, key: str) -> str:
        """The parameter's value; "" when absent."""
        for k, v in self.params:
            if k == key:
                return v
        return ""

    @property
    def english(self) -> str:
        return _english(self)


def listed(values: Iterable[object]) -> str:
    """A list parameter: names (enum members) or words joined by commas."""
    return ",".join(v.name if isinstance(v, Enum) else str(v) for v in values)


def english(reasons: Iterable[Reason]) -> str:
    """Reasons as one line of English, for the text fields older clients read."""
    return "; ".join(r.english for r in reasons)


def minutes(seconds: int) -> str:
    """`3 min 49 s`, or `45 s` under a minute."""
    m, s = divmod(max(0, seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


# Each code's parameter keys ("?" marks one that may be absent).
CODES: dict[ReasonCode, tuple[str, ...]] = {
    R.KIND_AS_PLANNED: ("kind",),
    R.KIND_IN_PLACE_OF: ("kind", "planned_kind"),
    R.ETA: ("eta_seconds", "distance_meters"),
    R.CROSSES_RIVER: ("crossing",),
    R.STATION_KEEPS: ("count", "kind", "station"),
    R.STATION_LEFT_WITHOUT: ("kind", "station"),
    R.BEYOND_MUTUAL_AID_ETA: ("threshold_seconds",),
    R.STANDS_IN: ("agency", "kind", "planned_agency", "threshold_seconds"),
    R.CHOSEN_BY_DISPATCHER: (),
    R.OUTSIDE_PLAN: (),
    R.NO_ROUTE: (),
    R.ESCALATED_HERE_BEFORE: (),
    R.NO_UNIT_AVAILABLE: ("kinds",),
    R.AWAITING_DISPATCHER: (),
    R.WAITING_FOR_UNITS: ("kinds",),
    R.NOT_YET_ASSIGNED: (),
    R.RELEASED_BY_DISPATCHER: ("text?",),
    R.NOT_ACKNOWLEDGED_IN_TIME: ("seconds",),
    R.INCIDENT_ENDED: (),
    R.UNIT_REPORTED_STATUS: ("status",),
    R.CREATED: ("type_code", "priority", "call_line"),
    R.EXERCISE: (),
    R.POSSIBLE_DUPLICATE_OF: ("incident",),
    R.CAUTIONS_AT_PLACE: ("count",),
    R.CALLER_ADDED: ("call_line", "caller_count"),
    R.QUESTION_ANSWERED: ("question", "answer"),
    R.TYPE_CHANGED: ("before", "after"),
    R.PRIORITY_CHANGED: ("before", "after"),
    R.FIELD_CHANGED: ("field",),
    R.NOTHING_CHANGED: (),
    R.STATE_CHANGED: ("before", "after"),
    R.UNIT_REPORTED: ("unit", "status"),
    R.CLOSED: ("resolution?",),
    R.CANCELLED: ("reason",),
    R.ABSORBED: ("incident", "reason?"),
    R.MERGED_INTO: ("incident", "reason?"),
    R.NOTE_ADDED: ("characters",),
    R.ASSIGNED_AUTOMATICALLY: ("units",),
    R.ASSIGNED_BY_DISPATCHER: ("units",),
    R.ACKNOWLEDGED: ("unit",),
    R.ESCALATED: ("unit",),
    R.RELEASED: ("units",),
    R.TEXT: ("text",),
}


def _int(r: Reason, key: str) -> int:
    try:
        return int(r.get(key))
    except ValueError:
        return 0


def _words(key: str, sep: str) -> Callable[[Reason], str]:
    """A list parameter in English: its items joined by `sep`."""
    return lambda r: sep.join(r.get(key).split(","))


def _with(head: str, key: str) -> Callable[[Reason], str]:
    """`head`, then `: value` when the optional parameter is there."""
    return lambda r: f"{head}: {r.get(key)}" if r.get(key) else head


def _paren(head: str) -> Callable[[Reason], str]:
    """`head {incident}`, then ` (reason)` when one was given."""
    return lambda r: (
        f"{head} {r.get('incident')}" + (f" ({r.get('reason')})" if r.get("reason") else "")
    )


# The English of each code, as the services wrote it before the codes.
_ENGLISH: Mapping[ReasonCode, Callable[[Reason], str]] = {
    R.KIND_AS_PLANNED: lambda r: f"{r.get('kind')} as planned",
    R.KIND_IN_PLACE_OF: lambda r: f"{r.get('kind')} in place of {r.get('planned_kind')}",
    R.ETA: lambda r: (
        f"ETA {minutes(_int(r, 'eta_seconds'))}, {_int(r, 'distance_meters') / 1000:.1f} km"
    ),
    R.CROSSES_RIVER: lambda r: f"crosses the Saigon river at {r.get('crossing')}",
    R.STATION_KEEPS: lambda r: (
        f"leaves {r.get('count')} {r.get('kind')} at {id_of(r.get('station'))}"
    ),
    R.STATION_LEFT_WITHOUT: lambda r: f"leaves no {r.get('kind')} at {id_of(r.get('station'))}",
    R.BEYOND_MUTUAL_AID_ETA: lambda r: (
        f"beyond {minutes(_int(r, 'threshold_seconds'))}: mutual aid from a neighbouring zone"
    ),
    R.STANDS_IN: lambda r: (
        f"{r.get('agency')} {r.get('kind')} stands in: no {r.get('planned_agency')} unit "
        f"within {minutes(_int(r, 'threshold_seconds'))}"
    ),
    R.CHOSEN_BY_DISPATCHER: lambda r: "chosen by the dispatcher",
    R.OUTSIDE_PLAN: lambda r: "an additional unit, beyond the plan",
    R.NO_ROUTE: lambda r: "no route found",
    R.ESCALATED_HERE_BEFORE: lambda r: "did not acknowledge this incident before",
    R.NO_UNIT_AVAILABLE: lambda r: f"no available {_words('kinds', '/')(r)}",
    R.AWAITING_DISPATCHER: lambda r: "awaiting a dispatcher's decision",
    R.WAITING_FOR_UNITS: lambda r: f"waiting for an available {_words('kinds', '/')(r)}",
    R.NOT_YET_ASSIGNED: lambda r: "not yet assigned",
    R.RELEASED_BY_DISPATCHER: lambda r: r.get("text") or "released by dispatcher",
    R.NOT_ACKNOWLEDGED_IN_TIME: lambda r: (
        f"not acknowledged within {r.get('seconds')} s; the next best unit is sent"
    ),
    R.INCIDENT_ENDED: lambda r: "incident ended",
    R.UNIT_REPORTED_STATUS: lambda r: f"unit reported {r.get('status')}",
    R.CREATED: lambda r: f"{r.get('type_code')} {r.get('priority')}, line {r.get('call_line')}",
    R.EXERCISE: lambda r: "exercise",
    R.POSSIBLE_DUPLICATE_OF: lambda r: f"possible duplicate of {r.get('incident')}",
    R.CAUTIONS_AT_PLACE: lambda r: f"{r.get('count')} caution(s) at the place",
    R.CALLER_ADDED: lambda r: (
        f"another caller attached (line {r.get('call_line')}; {r.get('caller_count')} callers)"
    ),
    R.QUESTION_ANSWERED: lambda r: f"answered {r.get('question')}={r.get('answer')}",
    R.TYPE_CHANGED: lambda r: f"type {r.get('before')} -> {r.get('after')}",
    R.PRIORITY_CHANGED: lambda r: f"priority {r.get('before')} -> {r.get('after')}",
    R.FIELD_CHANGED: lambda r: f"changed {r.get('field')}",
    R.NOTHING_CHANGED: lambda r: "changed nothing",
    R.STATE_CHANGED: lambda r: f"{r.get('before')} -> {r.get('after')}",
    R.UNIT_REPORTED: lambda r: f"{r.get('unit')} reports {r.get('status')}",
    R.CLOSED: _with("closed", "resolution"),
    R.CANCELLED: _with("cancelled", "reason"),
    R.ABSORBED: _paren("absorbed"),
    R.MERGED_INTO: _paren("merged into"),
    R.NOTE_ADDED: lambda r: f"note added ({r.get('characters')} characters)",
    R.ASSIGNED_AUTOMATICALLY: lambda r: f"assigned automatically: {_words('units', ', ')(r)}",
    R.ASSIGNED_BY_DISPATCHER: lambda r: f"assigned by a dispatcher: {_words('units', ', ')(r)}",
    R.ACKNOWLEDGED: lambda r: f"{r.get('unit')} acknowledged",
    R.ESCALATED: lambda r: f"{r.get('unit')} escalated",
    R.RELEASED: lambda r: f"released: {_words('units', ', ')(r)}",
    R.TEXT: lambda r: r.get("text"),
}


@functools.lru_cache(maxsize=4096)
def _english(reason: Reason) -> str:
    """Cached: most reasons recur (a unit's kind and station in every recommendation)."""
    return _ENGLISH[reason.code](reason)


# Stored reasons (a chronology entry's, a release's): compact JSON, `[[code, {k: v}], ...]`.


def to_json(reasons: Iterable[Reason]) -> str:
    return json.dumps([[int(r.code), dict(r.params)] for r in reasons], ensure_ascii=False)


def from_json(text: str) -> tuple[Reason, ...]:
    """The stored reasons; a code this version does not know (written by a newer one) is
    left out."""
    if not text or text == "[]":
        return ()
    known = set(ReasonCode)
    return tuple(
        Reason(ReasonCode(code), tuple(sorted(params.items())))
        for code, params in json.loads(text)
        if code in known
    )
