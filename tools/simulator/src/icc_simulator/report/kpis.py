"""Response KPIs from a run's event log: pure and exact.

Durations are computed in real seconds (what the services recorded) and reported in
simulated seconds (real × speed), so "8 minutes" means 8 minutes of the simulated day.
Percentiles are nearest-rank: the value at rank ceil(p/100 × n) of the sorted sample,
always one of the observed values, so a hand-written log has exact answers.

Duplicate calls (a later caller about an event already called in) are left out of the
response times: the event is measured once, by its first call.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from icc_kernel.stats import percentile
from icc_kernel.vocabulary import Agency, Priority, UnitStatus
from icc_simulator.world.eventlog import (
    EventLog,
    IncidentCreated,
    IncidentEnded,
    IncidentQueued,
    UnitAssigned,
    UnitStatusChanged,
)
from icc_simulator.world.model import BUSY

# Targets for the first unit of an agency on scene at a P1 incident, in simulated
# seconds. These are the project's planning figures for the city (comparable cities
# aim at 8 minutes for life-threatening medical calls and about 10 minutes for fire
# and police in dense urban areas), not a Vietnamese standard.
P1_TARGET_S: dict[Agency, float] = {
    Agency.MEDICAL: 8 * 60.0,
    Agency.FIRE: 10 * 60.0,
    Agency.POLICE: 10 * 60.0,
}
# An incident whose first unit comes later than this (simulated) waited for units.
WAIT_THRESHOLD_S = 2 * 60.0


@dataclass(frozen=True)
class Spread:
    """A sample of durations in simulated seconds: size and p50/p90/p99 (None if empty).
    `never`: incidents of the group that the step never reached during the run."""

    n: int
    p50: float | None
    p90: float | None
    p99: float | None
    never: int = 0

    @classmethod
    def of(cls, values: Sequence[float], never: int = 0) -> "Spread":
        if not values:
            return cls(0, None, None, None, never)
        return cls(
            len(values),
            percentile(values, 50),
            percentile(values, 90),
            percentile(values, 99),
            never,
        )


@dataclass(frozen=True)
class TargetShare:
    """P1 incidents whose first unit of the agency arrived within the target."""

    target_s: float
    reached: int
    missed: int
    # Neither: the run ended before the target time had passed without a unit.
    censored: int

    @property
    def share(self) -> float | None:
        judged = self.reached + self.missed
        return self.reached / judged if judged else None


@dataclass(frozen=True)
class Waited:
    incident: str
    type_code: str
    priority: Priority
    ward: str
    # Simulated seconds from the call to the first unit (None: no unit in the run).
    waited_s: float | None
    why: str


@dataclass(frozen=True)
class Utilisation:
    units: int
    # Busy time over in-service time (OUT_OF_SERVICE time is left out).
    overall: float | None
    by_agency: Mapping[str, float | None]
    # Most units busy at once, and when (real Unix seconds).
    peak_busy: int
    peak_time: float | None


@dataclass(frozen=True)
class Kpis:
    speed: float
    duration_s: float
    incidents: int
    duplicates: int
    ended: Mapping[str, int]
    still_open: int
    by_family: Mapping[str, int]
    to_dispatch: Mapping[str, Mapping[str, Spread]]
    to_on_scene: Mapping[str, Mapping[str, Spread]]
    p1_targets: Mapping[str, TargetShare]
    utilisation: Utilisation
    waited: Sequence[Waited]
    notes: Sequence[str] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        def spread(s: Spread) -> dict[str, Any]:
            return {"n": s.n, "p50_s": s.p50, "p90_s": s.p90, "p99_s": s.p99, "never": s.never}

        def groups(g: Mapping[str, Mapping[str, Spread]]) -> dict[str, Any]:
            return {by: {k: spread(v) for k, v in rows.items()} for by, rows in g.items()}

        u = self.utilisation
        return {
            "units_of_time": "simulated seconds (real seconds x speed)",
            "speed": self.speed,
            "duration_s": self.duration_s,
            "incidents": self.incidents,
            "duplicates": self.duplicates,
            "ended": dict(self.ended),
            "still_open": self.still_open,
            "by_family": dict(self.by_family),
            "call_to_dispatch": groups(self.to_dispatch),
            "call_to_on_scene": groups(self.to_on_scene),
            "p1_targets": {
                a: {
                    "target_s": t.target_s,
                    "reached": t.reached,
                    "missed": t.missed,
                    "censored": t.censored,
                    "share": t.share,
                }
                for a, t in self.p1_targets.items()
            },
            "utilisation": {
                "units": u.units,
                "overall": u.overall,
                "by_agency": dict(u.by_agency),
                "peak_busy": u.peak_busy,
                "peak_time": u.peak_time,
            },
            "waited": [
                {
                    "incident": w.incident,
                    "type_code": w.type_code,
                    "priority": w.priority.name,
                    "ward": w.ward,
                    "waited_s": w.waited_s,
                    "why": w.why,
                }
                for w in self.waited
            ],
            "notes": list(self.notes),
        }


@dataclass
class _Incident:
    created: IncidentCreated
    first_assigned: float | None = None
    first_on_scene: float | None = None
    by_agency_assigned: dict[Agency, float] = field(default_factory=dict)
    by_agency_on_scene: dict[Agency, float] = field(default_factory=dict)
    queued: list[IncidentQueued] = field(default_factory=list)
    ended: IncidentEnded | None = None


def _earliest(d: dict[Agency, float], agency: Agency, t: float) -> None:
    if agency not in d or t < d[agency]:
        d[agency] = t


def _collect(log: EventLog) -> dict[str, _Incident]:
    incidents: dict[str, _Incident] = {}
    for r in log.records:
        if isinstance(r, IncidentCreated):
            incidents[r.incident] = _Incident(r)
    for r in log.records:
        if isinstance(r, UnitAssigned) and r.incident in incidents:
            inc = incidents[r.incident]
            if inc.first_assigned is None or r.t < inc.first_assigned:
                inc.first_assigned = r.t
            _earliest(inc.by_agency_assigned, r.agency, r.t)
        elif (
            isinstance(r, UnitStatusChanged)
            and r.status is UnitStatus.ON_SCENE
            and r.incident in incidents
        ):
            inc = incidents[r.incident]
            if inc.first_on_scene is None or r.t < inc.first_on_scene:
                inc.first_on_scene = r.t
            _earliest(inc.by_agency_on_scene, r.agency, r.t)
        elif isinstance(r, IncidentQueued) and r.incident in incidents:
            incidents[r.incident].queued.append(r)
        elif isinstance(r, IncidentEnded) and r.incident in incidents:
            incidents[r.incident].ended = r
    return incidents


def _spreads(
    rows: Iterable[tuple[str, float | None]], speed: float, keys: Iterable[str] = ()
) -> dict[str, Spread]:
    values: dict[str, list[float]] = defaultdict(list)
    never: dict[str, int] = defaultdict(int)
    for k in keys:
        values.setdefault(k, [])
    for key, d in rows:
        if d is None:
            never[key] += 1
        else:
            values[key].append(d * speed)
    return {k: Spread.of(values[k], never.get(k, 0)) for k in sorted({*values, *never})}


def utilisation(log: EventLog, t0: float, t1: float) -> Utilisation:
    """Share of in-service time units spent busy, from each unit's status changes.

    A unit's status before its first record in the window is taken from that record's
    predecessor if any (the run logs a snapshot of every unit at its start)."""
    changes: dict[str, list[UnitStatusChanged]] = defaultdict(list)
    for r in log.records:
        if isinstance(r, UnitStatusChanged):
            changes[r.unit].append(r)
    busy_by: dict[str, float] = defaultdict(float)
    service_by: dict[str, float] = defaultdict(float)
    # (time, +1/-1) when a unit starts or stops being busy: for the peak.
    steps: list[tuple[float, int]] = []
    for unit_changes in changes.values():
        unit_changes.sort(key=lambda r: r.t)
        agency = unit_changes[0].agency.name
        for i, r in enumerate(unit_changes):
            start = max(r.t, t0)
            end = min(unit_changes[i + 1].t if i + 1 < len(unit_changes) else t1, t1)
            if end <= start:
                continue
            if r.status is not UnitStatus.OUT_OF_SERVICE:
                service_by[agency] += end - start
            if r.status in BUSY:
                busy_by[agency] += end - start
                steps.append((start, 1))
                steps.append((end, -1))
    peak, peak_time, current = 0, None, 0
    # Ends before starts at the same instant: a unit handed from one job to the next
    # is not counted twice.
    for t, step in sorted(steps, key=lambda s: (s[0], s[1])):
        current += step
        if current > peak:
            peak, peak_time = current, t
    total_service = sum(service_by.values())
    return Utilisation(
        units=len(changes),
        overall=sum(busy_by.values()) / total_service if total_service else None,
        by_agency={
            a: (busy_by[a] / service_by[a] if service_by[a] else None) for a in sorted(service_by)
        },
        peak_busy=peak,
        peak_time=peak_time,
    )


@dataclass
class _Tally:
    """The first calls' response times, target counts and waits, gathered one by one."""

    speed: float
    # The run's end (real seconds): incidents younger than a target are not judged yet.
    t1: float
    dispatch_rows: dict[str, list[tuple[str, float | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    scene_rows: dict[str, list[tuple[str, float | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    # Reached, missed, censored, by agency.
    targets: dict[Agency, list[int]] = field(
        default_factory=lambda: {a: [0, 0, 0] for a in P1_TARGET_S}
    )
    waited: list[Waited] = field(default_factory=list)
    by_family: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, inc: _Incident) -> None:
        c = inc.created
        self.by_family[c.family] += 1
        since = c.t
        to_d = None if inc.first_assigned is None else inc.first_assigned - since
        to_s = None if inc.first_on_scene is None else inc.first_on_scene - since
        for by, key in (
            ("priority", c.priority.name),
            ("ward", c.ward or "(no ward)"),
            ("line", c.line.name),
        ):
            self.dispatch_rows[by].append((key, to_d))
            self.scene_rows[by].append((key, to_s))
        for agency in c.agencies:
            a_d = inc.by_agency_assigned.get(agency)
            a_s = inc.by_agency_on_scene.get(agency)
            self.dispatch_rows["agency"].append((agency.name, None if a_d is None else a_d - since))
            self.scene_rows["agency"].append((agency.name, None if a_s is None else a_s - since))
            if c.priority is Priority.P1 and agency in P1_TARGET_S:
                self._judge(agency, since, a_s)
        why = self._why_waited(inc, to_d)
        if why:
            self.waited.append(
                Waited(
                    c.incident,
                    c.type_code,
                    c.priority,
                    c.ward,
                    None if to_d is None else to_d * self.speed,
                    why,
                )
            )

    def _judge(self, agency: Agency, since: float, on_scene: float | None) -> None:
        target_real = P1_TARGET_S[agency] / self.speed
        counts = self.targets[agency]
        if on_scene is not None and on_scene - since <= target_real:
            counts[0] += 1
        elif on_scene is not None or self.t1 - since > target_real:
            counts[1] += 1
        else:
            counts[2] += 1

    def _why_waited(self, inc: _Incident, to_d: float | None) -> str:
        wait_real = WAIT_THRESHOLD_S / self.speed
        if inc.queued:
            q = inc.queued[0]
            return f"dispatch: {q.reason}" if q.reason else "dispatch queued it"
        if to_d is not None and to_d > wait_real:
            return "first unit assigned late"
        if to_d is None and self.t1 - inc.created.t > wait_real and inc.ended is None:
            return "no unit assigned during the run"
        return ""

    def spreads(
        self, rows: dict[str, list[tuple[str, float | None]]]
    ) -> dict[str, dict[str, Spread]]:
        priorities = [p.name for p in Priority]
        return {
            "agency": _spreads(rows["agency"], self.speed),
            "priority": _spreads(rows["priority"], self.speed, priorities),
            "ward": _spreads(rows["ward"], self.speed),
            "line": _spreads(rows["line"], self.speed),
        }


def compute(log: EventLog, *, t_end: float | None = None) -> Kpis:
    """KPIs of the run in `log`, up to `t_end` (default: the run's end)."""
    info = log.info
    speed = info.speed
    t0 = info.t_start
    t1 = t_end if t_end is not None else (info.t_end or t0)
    incidents = _collect(log)
    firsts = [i for i in incidents.values() if not i.created.duplicate]
    tally = _Tally(speed, t1)
    for inc in firsts:
        tally.add(inc)
    ended: dict[str, int] = defaultdict(int)
    for inc in incidents.values():
        if inc.ended is not None:
            ended[inc.ended.how] += 1
    waited = sorted(tally.waited, key=lambda w: (w.priority, -(w.waited_s or math.inf), w.incident))
    targets = tally.targets
    return Kpis(
        speed=speed,
        duration_s=(t1 - t0) * speed,
        incidents=len(firsts),
        duplicates=len(incidents) - len(firsts),
        ended=dict(sorted(ended.items())),
        still_open=sum(1 for i in incidents.values() if i.ended is None),
        by_family=dict(sorted(tally.by_family.items())),
        to_dispatch=tally.spreads(tally.dispatch_rows),
        to_on_scene=tally.spreads(tally.scene_rows),
        p1_targets={
            a.name: TargetShare(P1_TARGET_S[a], targets[a][0], targets[a][1], targets[a][2])
            for a in P1_TARGET_S
        },
        utilisation=utilisation(log, t0, t1),
        waited=waited,
    )


def busy_series(log: EventLog, t0: float, t1: float, points: int = 200) -> list[tuple[float, int]]:
    """Units busy at `points` evenly spaced real times in [t0, t1] (for the chart)."""
    current: dict[str, bool] = {}
    changes = sorted(
        (r for r in log.records if isinstance(r, UnitStatusChanged)), key=lambda r: r.t
    )
    out: list[tuple[float, int]] = []
    i = 0
    busy = 0
    for k in range(points + 1):
        t = t0 + (t1 - t0) * k / points
        while i < len(changes) and changes[i].t <= t:
            r = changes[i]
            was = current.get(r.unit, False)
            now = r.status in BUSY
            busy += int(now) - int(was)
            current[r.unit] = now
            i += 1
        out.append((t, busy))
    return out


def on_scene_samples(log: EventLog) -> dict[str, list[float]]:
    """Call to first unit of each agency on scene, simulated seconds, first calls only."""
    out: dict[str, list[float]] = defaultdict(list)
    for inc in _collect(log).values():
        if inc.created.duplicate:
            continue
        for agency in inc.created.agencies:
            t = inc.by_agency_on_scene.get(agency)
            if t is not None:
                out[agency.name].append((t - inc.created.t) * log.info.speed)
    return dict(out)


def calls_by_interval(log: EventLog, bin_s: float = 3600.0) -> dict[str, list[int]]:
    """Incidents created per `bin_s` simulated seconds of the run, by family (duplicates
    included: the call-takers answered them too)."""
    info = log.info
    created = [r for r in log.records if isinstance(r, IncidentCreated)]
    if not created:
        return {}

    def slot(t: float) -> int:
        return int(max(0.0, (t - info.t_start) * info.speed) // bin_s)

    bins = max(slot(r.t) for r in created) + 1
    out: dict[str, list[int]] = defaultdict(lambda: [0] * bins)
    for r in created:
        out[r.family][slot(r.t)] += 1
    return dict(out)
