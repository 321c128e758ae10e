"""Recommendation: the candidates for each role of a plan, ranked, with reasons.

Two pure steps around the (possibly remote) travel-time lookup:
`shortlist` picks the nearest available units of each planned kind from the
fleet index; `rank` orders them by ETA, prefers the planned kind over a stand-in
and, when ETAs are close, the unit whose departure leaves its station covered,
then selects the best for each role without using a unit twice.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from icc_city.travel import Eta
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import Agency, FleetUnit, Point, UnitKind
from icc_dispatch.domain.plans import Need, PlanItem, ResponsePlan

# Another agency's units that can stand in for a role when its own have none
# near enough: fire rescue crews are trained first responders.
STAND_INS: dict[Agency, tuple[UnitKind, ...]] = {
    Agency.MEDICAL: (UnitKind.RESCUE,),
}
# Seconds added per step down the plan's list of acceptable kinds.
KIND_PENALTY_S = 45
# Seconds added when the unit is the last of its kind at its station.
COVERAGE_PENALTY_S = 60
DEFAULT_MUTUAL_AID_ETA_S = 15 * 60


@dataclass(frozen=True)
class Candidate:
    unit: FleetUnit
    role: str
    eta: Eta
    rank: int
    reasons: tuple[str, ...]
    coverage_left: int
    mutual_aid: bool = False
    selected: bool = False


@dataclass(frozen=True)
class Shortfall:
    role: str
    agency: Agency
    missing: int
    reason: str


@dataclass(frozen=True)
class Recommendation:
    incident_id: str
    plan: ResponsePlan
    candidates: tuple[Candidate, ...]
    shortfalls: tuple[Shortfall, ...]
    eta_source: str
    create_time: datetime

    @property
    def selected(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.selected)

    @property
    def mutual_aid(self) -> bool:
        return any(c.mutual_aid for c in self.candidates)

    @property
    def complete(self) -> bool:
        """Its selection meets the plan with units near enough: nobody needs telling."""
        return not self.shortfalls and not self.mutual_aid


@dataclass(frozen=True)
class Shortlist:
    item: PlanItem
    missing: int
    # Planned kinds first (in the plan's order of preference), then stand-ins.
    units: tuple[FleetUnit, ...]
    stand_ins: tuple[FleetUnit, ...]


def shortlist(
    needs: Sequence[Need],
    fleet: Fleet,
    point: Point,
    per_role: int,
    exclude: frozenset[str] = frozenset(),
) -> list[Shortlist]:
    out = []
    for need in needs:
        want = need.missing + per_role
        # The nearest `want` of any acceptable kind: travel times are only worked out
        # for units that could make the list.
        near: dict[str, tuple[float, FleetUnit]] = {}
        for kind in need.item.kinds:
            for d, u in fleet.nearest(kind, point, want, exclude):
                near.setdefault(u.id, (d, u))
        ordered = sorted(near.values(), key=lambda t: (t[0], t[1].id))[:want]
        units = {u.id: u for _, u in ordered}
        stand_ins: dict[str, FleetUnit] = {}
        for kind in STAND_INS.get(need.item.agency, ()):
            if kind in need.item.kinds:
                continue
            for _, u in fleet.nearest(kind, point, need.missing + 1, exclude):
                stand_ins.setdefault(u.id, u)
        out.append(
            Shortlist(need.item, need.missing, tuple(units.values()), tuple(stand_ins.values()))
        )
    return out


def minutes(seconds: int) -> str:
    m, s = divmod(max(0, seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


def _planned(
    sl: Shortlist, etas: Mapping[str, Eta | None], fleet: Fleet, mutual_aid_eta_s: int
) -> list[Candidate]:
    """The planned kinds' units with a route, best first: by ETA, plus a penalty per step
    down the plan's list of kinds and one for leaving a station without its kind."""
    item = sl.item
    scored: list[tuple[float, Candidate]] = []
    for u in sl.units:
        eta = etas.get(u.id)
        if eta is None:
            continue
        step = item.kinds.index(u.kind)
        left = fleet.coverage_left(u)
        reasons = [
            f"{u.kind.name} as planned"
            if step == 0
            else f"{u.kind.name} in place of {item.kinds[0].name}",
            f"ETA {minutes(eta.seconds)}, {eta.meters / 1000:.1f} km",
        ]
        if eta.via:
            reasons.append(f"crosses the Saigon river at {eta.via}")
        reasons.append(
            f"leaves {left} {u.kind.name} at {u.home_station}"
            if left
            else f"leaves no {u.kind.name} at {u.home_station}"
        )
        far = eta.seconds > mutual_aid_eta_s
        if far:
            reasons.append(
                f"beyond {minutes(mutual_aid_eta_s)}: mutual aid from a neighbouring zone"
            )
        score = eta.seconds + step * KIND_PENALTY_S + (0 if left else COVERAGE_PENALTY_S)
        scored.append((score, Candidate(u, item.role, eta, 0, tuple(reasons), left, far)))
    scored.sort(key=lambda t: (t[0], t[1].unit.id))
    return [c for _, c in scored]


def _stand_ins(
    sl: Shortlist, etas: Mapping[str, Eta | None], fleet: Fleet, mutual_aid_eta_s: int
) -> list[Candidate]:
    """Another agency's units within reach, nearest first."""
    item = sl.item
    stand_ins: list[Candidate] = []
    for u in sl.stand_ins:
        eta = etas.get(u.id)
        if eta is None or eta.seconds > mutual_aid_eta_s:
            continue
        stand_ins.append(
            Candidate(
                u,
                item.role,
                eta,
                0,
                (
                    f"{u.agency.name} {u.kind.name} stands in: no {item.agency.name} "
                    f"unit within {minutes(mutual_aid_eta_s)}",
                    f"ETA {minutes(eta.seconds)}, {eta.meters / 1000:.1f} km",
                ),
                fleet.coverage_left(u),
                True,
            )
        )
    stand_ins.sort(key=lambda c: (c.eta.seconds, c.unit.id))
    return stand_ins


def rank(
    incident_id: str,
    plan: ResponsePlan,
    lists: Sequence[Shortlist],
    etas: Mapping[str, Eta | None],
    fleet: Fleet,
    *,
    per_role: int,
    eta_source: str,
    now: datetime,
    mutual_aid_eta_s: int = DEFAULT_MUTUAL_AID_ETA_S,
) -> Recommendation:
    taken: set[str] = set()
    candidates: list[Candidate] = []
    shortfalls: list[Shortfall] = []
    for sl in lists:
        item = sl.item
        planned = _planned(sl, etas, fleet, mutual_aid_eta_s)
        near_enough = [c for c in planned if not c.mutual_aid]
        stand_ins = (
            _stand_ins(sl, etas, fleet, mutual_aid_eta_s) if len(near_enough) < sl.missing else []
        )
        # Near planned units first, then a stand-in within reach, then far planned units.
        far_planned = [c for c in planned if c.mutual_aid]
        ordered = near_enough + stand_ins + far_planned
        chosen = 0
        shown: list[Candidate] = []
        for c in ordered:
            pick = chosen < sl.missing and c.unit.id not in taken
            if pick:
                taken.add(c.unit.id)
                chosen += 1
            if pick or len(shown) < per_role:
                shown.append(replace(c, rank=len(shown) + 1, selected=pick))
        candidates.extend(shown)
        if chosen < sl.missing:
            shortfalls.append(
                Shortfall(
                    item.role,
                    item.agency,
                    sl.missing - chosen,
                    f"no available {'/'.join(k.name for k in item.kinds)}",
                )
            )
    return Recommendation(incident_id, plan, tuple(candidates), tuple(shortfalls), eta_source, now)
