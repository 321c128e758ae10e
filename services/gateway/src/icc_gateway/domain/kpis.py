"""Response-time KPIs of the last hour, live: what the dispatcher screen's KPI strip shows.

Pure: no I/O and no clock (the caller passes `now`, Unix seconds). The picture (picture.py)
hands every new version of an incident to `ResponseWindow.observe`, open or closed, from
the same apply point that updates the picture; the window keeps the little the KPIs need
of each incident created in the last `window_s` (the picture itself forgets incidents
once they close). Memory is bounded: records older than the window are evicted as newer
incidents come in (by their create time, so no clock is needed) and when the KPIs are
computed, and never more than `max_records` are kept.

Durations are real seconds between the incidents service's own timestamps: the call
(`create_time`) to the first dispatch (`first_dispatch_time`) and to the first unit of
any agency on scene (`first_on_scene_time`). Percentiles are nearest-rank, as in the
simulator's KPIs: the value at rank ceil(p/100 x n) of the sorted sample, always one of
the observed values. An incident is grouped by its lead agency (the first of its
`agencies`) and its priority.
"""

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from icc_gateway.domain.kpi_model import (
    ExerciseFilter,
    KpiCalls,
    Kpis,
    KpiSpread,
    KpiStep,
    KpiTarget,
    KpiUnitGroup,
    KpiUnits,
    KpiWaiting,
)
from icc_gateway.domain.model import Incident, Unit
from icc_gateway.domain.names import OPEN_STATES, names
from icc_kernel.stats import percentile
from icc_kernel.vocabulary import Agency, AssignmentState, IncidentState, Priority, UnitStatus

# The first unit on scene at a P1 incident, by lead agency, in seconds: the project's
# planning figures (tools/simulator/src/icc_simulator/kpis.py, `P1_TARGET_S`).
P1_TARGET_S: Mapping[str, float] = {
    Agency.MEDICAL.name: 8 * 60.0,
    Agency.FIRE.name: 10 * 60.0,
    Agency.POLICE.name: 10 * 60.0,
}
# Agencies always listed (in this order), even with nothing in the window.
AGENCIES = tuple(a.name for a in (Agency.POLICE, Agency.FIRE, Agency.MEDICAL))
PRIORITIES = tuple(str(p.value) for p in Priority)
# Unit statuses that mean "working an incident" (the resources service's BUSY set).
BUSY = names(
    UnitStatus.DISPATCHED,
    UnitStatus.EN_ROUTE,
    UnitStatus.ON_SCENE,
    UnitStatus.TRANSPORTING,
    UnitStatus.AT_HOSPITAL,
)
ACTIVE_ASSIGNMENT = names(
    AssignmentState.PROPOSED, AssignmentState.ASSIGNED, AssignmentState.ACKNOWLEDGED
)
# Ended without a response being needed: not judged against the P1 target.
WITHDRAWN = names(IncidentState.CANCELLED, IncidentState.MERGED)
# Incidents waiting for units listed by id (the oldest first); the count has them all.
WAITING_LISTED = 20


@dataclass(frozen=True)
class KpiSettings:
    # Incidents created in this many seconds before now are counted.
    window_s: float = 3600.0
    # An open incident without a unit after this long is waiting for units (auto-dispatched
    # ones: none was found; the others: a dispatcher has not decided yet).
    wait_after_s: float = 60.0
    # Priorities dispatch assigns by itself (dispatch's `ICC_DISPATCH_AUTO`, P1 and P2).
    auto_priorities: frozenset[int] = frozenset({Priority.P1, Priority.P2})
    p1_targets_s: Mapping[str, float] = field(default_factory=lambda: dict(P1_TARGET_S))
    # Hard bound on memory whatever comes in: the oldest are dropped beyond this.
    max_records: int = 50_000


def seconds(iso: str | None) -> float | None:
    """An ISO 8601 time of the API (`...Z`) -> Unix seconds, or None."""
    if not iso:
        return None
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(unix_s: float) -> str:
    """Unix seconds -> an ISO 8601 time of the API, to the millisecond (`...Z`)."""
    moment = datetime.fromtimestamp(unix_s, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Record:
    """What the KPIs keep of one incident (times in Unix seconds)."""

    id: str
    agencies: tuple[str, ...]
    priority: int | None
    exercise: bool
    state: str | None
    ward: str
    create_time: float
    first_dispatch_time: float | None
    first_on_scene_time: float | None

    @property
    def lead(self) -> str | None:
        return self.agencies[0] if self.agencies else None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @classmethod
    def of(cls, item: Incident) -> "Record | None":
        """From the picture form of an incident; None without a create time."""
        created = seconds(item.create_time)
        if created is None:
            return None
        return cls(
            id=item.id,
            agencies=tuple(item.agencies),
            priority=item.priority,
            exercise=item.exercise,
            state=item.state,
            ward=item.ward,
            create_time=created,
            first_dispatch_time=seconds(item.first_dispatch_time),
            first_on_scene_time=seconds(item.first_on_scene_time),
        )


def _included(exercise: bool, which: ExerciseFilter) -> bool:
    if which == "exclude":
        return not exercise
    if which == "only":
        return exercise
    return True


def _spread(values: list[float], pending: int) -> KpiSpread:
    if not values:
        return KpiSpread(n=0, p50_s=None, p90_s=None, pending=pending)
    return KpiSpread(
        n=len(values),
        p50_s=round(percentile(values, 50), 3),
        p90_s=round(percentile(values, 90), 3),
        pending=pending,
    )


class _Step:
    """Samples of one step (call -> dispatch, call -> on scene) by lead agency and priority."""

    def __init__(self) -> None:
        self.all: list[float] = []
        self.pending = 0
        self.by_agency: dict[str, list[float]] = {a: [] for a in AGENCIES}
        self.agency_pending: dict[str, int] = {}
        self.by_priority: dict[str, list[float]] = {p: [] for p in PRIORITIES}
        self.priority_pending: dict[str, int] = {}

    def add(self, r: Record, reached: float | None) -> None:
        keys: list[tuple[dict[str, list[float]], dict[str, int], str]] = []
        if r.lead is not None:
            keys.append((self.by_agency, self.agency_pending, r.lead))
        if r.priority is not None:
            keys.append((self.by_priority, self.priority_pending, str(int(r.priority))))
        if reached is not None:
            took = max(0.0, reached - r.create_time)
            self.all.append(took)
            for values, _, key in keys:
                values.setdefault(key, []).append(took)
        elif r.is_open:
            # Not there yet and may still get there.
            self.pending += 1
            for values, pending, key in keys:
                values.setdefault(key, [])
                pending[key] = pending.get(key, 0) + 1

    def figures(self) -> KpiStep:
        return KpiStep(
            all=_spread(self.all, self.pending),
            by_agency={
                a: _spread(v, self.agency_pending.get(a, 0)) for a, v in self.by_agency.items()
            },
            by_priority={
                p: _spread(v, self.priority_pending.get(p, 0))
                for p, v in sorted(self.by_priority.items())
            },
        )


@dataclass
class _TargetCount:
    reached: int = 0
    missed: int = 0
    # No unit on scene yet, the target time not over yet.
    pending: int = 0


class _Targets:
    """P1 incidents against their lead agency's target time for the first unit on scene."""

    def __init__(self, targets_s: Mapping[str, float]) -> None:
        self.targets_s = targets_s
        self.counts = {a: _TargetCount() for a in targets_s}

    def add(self, r: Record, now: float) -> None:
        target = self.targets_s.get(r.lead or "")
        if r.priority != Priority.P1 or target is None:
            return
        count = self.counts[r.lead or ""]
        if r.first_on_scene_time is not None:
            if r.first_on_scene_time - r.create_time <= target:
                count.reached += 1
            else:
                count.missed += 1
        elif r.state in WITHDRAWN:
            return
        elif now - r.create_time > target:
            count.missed += 1
        else:
            count.pending += 1

    def figures(self) -> dict[str, KpiTarget]:
        out = {}
        for agency, target in self.targets_s.items():
            c = self.counts[agency]
            judged = c.reached + c.missed
            out[agency] = KpiTarget(
                target_s=target,
                reached=c.reached,
                missed=c.missed,
                pending=c.pending,
                share=round(c.reached / judged, 4) if judged else None,
            )
        return out


def _units(units: Iterable[Unit]) -> KpiUnits:
    overall = _UnitCount()
    by_agency = {a: _UnitCount() for a in AGENCIES}
    for u in units:
        agency = u.agency or "UNKNOWN"
        for g in (overall, by_agency.setdefault(agency, _UnitCount())):
            g.total += 1
            if u.status == UnitStatus.OUT_OF_SERVICE.name:
                g.out_of_service += 1
            elif u.status in BUSY:
                g.busy += 1
    return KpiUnits(
        **dict(overall.figures()), by_agency={a: g.figures() for a, g in by_agency.items()}
    )


@dataclass
class _UnitCount:
    total: int = 0
    out_of_service: int = 0
    busy: int = 0

    def figures(self) -> KpiUnitGroup:
        in_service = self.total - self.out_of_service
        return KpiUnitGroup(
            total=self.total,
            out_of_service=self.out_of_service,
            busy=self.busy,
            utilisation=round(self.busy / in_service, 4) if in_service else None,
        )


class ResponseWindow:
    """The incidents created in the last `settings.window_s`, open or closed, as `Record`s."""

    def __init__(self, settings: KpiSettings | None = None) -> None:
        self.settings = settings or KpiSettings()
        self._records: dict[str, Record] = {}
        # (create_time, id) of every record, oldest first: for eviction.
        self._by_age: list[tuple[float, str]] = []
        # The newest create time seen: the window's clock between two `compute`s.
        self._newest = -math.inf

    def __len__(self) -> int:
        return len(self._records)

    def get(self, incident_id: str) -> Record | None:
        return self._records.get(incident_id)

    def observe(self, item: Incident) -> None:
        """A new version of an incident (the picture form), open or closed."""
        record = Record.of(item)
        if record is None:
            return
        self._newest = max(self._newest, record.create_time)
        if record.create_time < self._newest - self.settings.window_s:
            return  # already out of the window
        known = self._records.get(record.id)
        if known is None:
            heapq.heappush(self._by_age, (record.create_time, record.id))
        else:
            # Times are set once and never unset: a version without one keeps the known.
            record = replace(
                record,
                create_time=known.create_time,
                first_dispatch_time=record.first_dispatch_time or known.first_dispatch_time,
                first_on_scene_time=record.first_on_scene_time or known.first_on_scene_time,
            )
        self._records[record.id] = record
        self._evict(self._newest)

    def _evict(self, now: float) -> None:
        cutoff = now - self.settings.window_s
        heap = self._by_age
        while heap and (heap[0][0] < cutoff or len(self._records) > self.settings.max_records):
            _, incident_id = heapq.heappop(heap)
            self._records.pop(incident_id, None)

    def records(self, now: float, exercise: ExerciseFilter = "include") -> list[Record]:
        """The incidents created in the window ending at `now`, oldest first."""
        self._evict(now)
        return sorted(
            (r for r in self._records.values() if _included(r.exercise, exercise)),
            key=lambda r: (r.create_time, r.id),
        )

    def compute(
        self,
        now: float,
        open_incidents: Iterable[Incident],
        units: Iterable[Unit],
        exercise: ExerciseFilter = "include",
    ) -> Kpis:
        """The KPIs at `now` (the `Kpis` of API.md, `server_time` being `now`).

        `open_incidents` and `units` are the picture's, for what is true now: the
        incidents waiting for units and the units busy."""
        records = self.records(now, exercise)
        to_dispatch, to_scene = _Step(), _Step()
        targets = _Targets(self.settings.p1_targets_s)
        for r in records:
            if r.state == IncidentState.MERGED.name:
                continue  # a duplicate call: the incident it joined is measured
            to_dispatch.add(r, r.first_dispatch_time)
            to_scene.add(r, r.first_on_scene_time)
            targets.add(r, now)
        return Kpis(
            server_time=iso(now),
            window_s=self.settings.window_s,
            exercise=exercise,
            calls=_calls(records),
            call_to_dispatch=to_dispatch.figures(),
            call_to_on_scene=to_scene.figures(),
            p1_within_target=targets.figures(),
            waiting=self._waiting(now, open_incidents, exercise),
            units=_units(units),
        )

    def _waiting(
        self, now: float, open_incidents: Iterable[Incident], exercise: ExerciseFilter
    ) -> KpiWaiting:
        """Open incidents with no unit after `wait_after_s`, the longest first: those
        dispatch assigns by itself found none, the others wait for a dispatcher's decision
        (counted apart too, in `awaiting_dispatcher`)."""
        s = self.settings
        waiting = sorted(
            (
                (now - created, i.id, i.priority not in s.auto_priorities)
                for i in open_incidents
                if (created := seconds(i.create_time)) is not None
                and now - created > s.wait_after_s
                and i.state in OPEN_STATES
                and not i.first_dispatch_time
                and _included(i.exercise, exercise)
                and not any(a.state in ACTIVE_ASSIGNMENT for a in i.assignments)
            ),
            key=lambda w: (-w[0], w[1]),
        )
        return KpiWaiting(
            count=len(waiting),
            awaiting_dispatcher=sum(1 for w in waiting if w[2]),
            after_s=s.wait_after_s,
            oldest_s=round(waiting[0][0], 3) if waiting else None,
            incidents=[w[1] for w in waiting[:WAITING_LISTED]],
        )


def _calls(records: list[Record]) -> KpiCalls:
    by_agency: dict[str, int] = dict.fromkeys(AGENCIES, 0)
    by_priority: dict[str, int] = dict.fromkeys(PRIORITIES, 0)
    for r in records:
        if r.lead is not None:
            by_agency[r.lead] = by_agency.get(r.lead, 0) + 1
        if r.priority is not None:
            key = str(int(r.priority))
            by_priority[key] = by_priority.get(key, 0) + 1
    return KpiCalls(
        total=len(records),
        exercise=sum(1 for r in records if r.exercise),
        open=sum(1 for r in records if r.is_open),
        by_agency=by_agency,
        by_priority=by_priority,
    )
