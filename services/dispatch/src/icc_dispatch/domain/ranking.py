"""Recommendation: the candidates for each role of a plan, ranked, with reasons.

Two pure steps around the (possibly remote) travel-time lookup:
`shortlist` picks the nearest available units of each planned kind from the
fleet index; `rank` orders them by ETA, prefers the kind the plan asks for first
(another kind must be clearly sooner), then, when ETAs are close, the unit whose
departure leaves its station covered, and selects the best for each role without
using a unit twice. `rank_available` lists every available unit by ETA for a
dispatcher's own choice. A candidate's reasons (`icc_kernel.reasons`) are made from
it when asked, at the edge: choosing units never formats a word.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum

from icc_city.travel import Eta
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import Agency, FleetUnit, Point, UnitKind
from icc_dispatch.domain.plans import Need, PlanItem, ResponsePlan
from icc_kernel.names import name_of
from icc_kernel.reasons import Reason, ReasonCode, listed
from icc_kernel.vocabulary import EtaSource

R = ReasonCode

# Another agency's units that can stand in for a role when its own have none
# near enough: fire rescue crews are trained first responders.
STAND_INS: dict[Agency, tuple[UnitKind, ...]] = {
    Agency.MEDICAL: (UnitKind.RESCUE,),
}
# Seconds added per step down the plan's list of acceptable kinds. More than the
# coverage penalty: between two units with the same ETA, the kind the plan asks for is
# chosen whatever each leaves at its station; another kind only when clearly sooner.
KIND_PENALTY_S = 90
# Seconds added when the unit is the last of its kind at its station.
COVERAGE_PENALTY_S = 60
DEFAULT_MUTUAL_AID_ETA_S = 15 * 60
# The role of a unit that fills no open role of the plan.
ADDITIONAL = "additional"
# The ETA of a unit the routing engine found no route for.
NO_ETA = Eta(0, 0)


class Fit(IntEnum):
    """How a candidate came to be proposed for its role."""

    # A kind the plan accepts for the role (or, outside the plan, any unit ranked).
    PLAN = 1
    # Another agency's unit standing in (`STAND_INS`).
    STAND_IN = 2
    # Named by a dispatcher outside the recommendation.
    DISPATCHER = 3


@dataclass(frozen=True)
class Candidate:
    unit: FleetUnit
    # The plan's line of the role it fills; None: an additional unit.
    item: PlanItem | None
    eta: Eta
    rank: int
    coverage_left: int
    fit: Fit
    # The mutual-aid threshold it was judged by, in seconds.
    threshold_s: int
    mutual_aid: bool = False
    selected: bool = False
    # False: the routing engine found no route (`eta` is `NO_ETA`).
    routed: bool = True
    # It did not acknowledge this incident before and was replaced.
    escalated_before: bool = False

    @property
    def role(self) -> str:
        return self.item.role if self.item is not None else ADDITIONAL

    @property
    def far(self) -> bool:
        """Beyond the mutual-aid threshold."""
        return self.eta.seconds > self.threshold_s

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Why it ranks where it does. Made when asked (at the edge), not while ranking:
        choosing units for an incident never needs them. The reasons every candidate has
        are built as `Reason.of` would build them (keys sorted), without its generality:
        a P3's recommendation event makes a hundred of them."""
        u, item, eta = self.unit, self.item, self.eta
        kind = u.kind._name_
        out: list[Reason] = []
        if self.fit is Fit.STAND_IN and item is not None:
            out.append(
                Reason.of(
                    R.STANDS_IN,
                    agency=u.agency,
                    kind=u.kind,
                    planned_agency=item.agency,
                    threshold_seconds=self.threshold_s,
                )
            )
        else:
            if self.fit is Fit.DISPATCHER:
                out.append(Reason(R.CHOSEN_BY_DISPATCHER))
            if item is None:
                out.append(Reason(R.OUTSIDE_PLAN))
            elif u.kind == item.kinds[0]:
                out.append(Reason(R.KIND_AS_PLANNED, (("kind", kind),)))
            else:
                out.append(Reason.of(R.KIND_IN_PLACE_OF, kind=u.kind, planned_kind=item.kinds[0]))
        if not self.routed:
            out.append(Reason(R.NO_ROUTE))
        else:
            meters, seconds = str(eta.meters), str(eta.seconds)
            out.append(Reason(R.ETA, (("distance_meters", meters), ("eta_seconds", seconds))))
        if eta.via:
            out.append(Reason.of(R.CROSSES_RIVER, crossing=eta.via))
        if self.fit is not Fit.STAND_IN:
            station = ("station", name_of("stations", u.home_station))
            out.append(
                Reason(
                    R.STATION_KEEPS, (("count", str(self.coverage_left)), ("kind", kind), station)
                )
                if self.coverage_left
                else Reason(R.STATION_LEFT_WITHOUT, (("kind", kind), station))
            )
            if self.far:
                out.append(Reason.of(R.BEYOND_MUTUAL_AID_ETA, threshold_seconds=self.threshold_s))
        if self.escalated_before:
            out.append(Reason(R.ESCALATED_HERE_BEFORE))
        return tuple(out)


@dataclass(frozen=True)
class Shortfall:
    role: str
    agency: Agency
    missing: int
    reason: Reason


@dataclass(frozen=True)
class Recommendation:
    incident_id: str
    plan: ResponsePlan
    candidates: tuple[Candidate, ...]
    shortfalls: tuple[Shortfall, ...]
    eta_source: EtaSource
    create_time: datetime
    mutual_aid_eta_s: int = DEFAULT_MUTUAL_AID_ETA_S

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
        far = eta.seconds > mutual_aid_eta_s
        score = eta.seconds + step * KIND_PENALTY_S + (0 if left else COVERAGE_PENALTY_S)
        candidate = Candidate(u, item, eta, 0, left, Fit.PLAN, mutual_aid_eta_s, far)
        scored.append((score, candidate))
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
        left = fleet.coverage_left(u)
        stand_ins.append(Candidate(u, item, eta, 0, left, Fit.STAND_IN, mutual_aid_eta_s, True))
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
    eta_source: EtaSource,
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
            why = Reason.of(R.NO_UNIT_AVAILABLE, kinds=listed(item.kinds))
            shortfalls.append(Shortfall(item.role, item.agency, sl.missing - chosen, why))
    return Recommendation(
        incident_id,
        plan,
        tuple(candidates),
        tuple(shortfalls),
        eta_source,
        now,
        mutual_aid_eta_s,
    )


def role_for(unit: FleetUnit, open_items: Iterable[PlanItem]) -> PlanItem | None:
    """The first open role of the plan the unit's kind can fill; None: none (an
    additional unit)."""
    return next((i for i in open_items if unit.kind in i.kinds), None)


def rank_available(
    units: Iterable[FleetUnit],
    etas: Mapping[str, Eta | None],
    open_items: Sequence[PlanItem],
    fleet: Fleet,
    *,
    mutual_aid_eta_s: int,
    excluded: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Units for a dispatcher's own choice, nearest by ETA first (those with no route
    last), each with the open role it could fill."""
    out = []
    for u in units:
        eta = etas.get(u.id)
        c = Candidate(
            u,
            role_for(u, open_items),
            eta or NO_ETA,
            0,
            fleet.coverage_left(u),
            Fit.PLAN,
            mutual_aid_eta_s,
            mutual_aid=eta is not None and eta.seconds > mutual_aid_eta_s,
            routed=eta is not None,
            escalated_before=u.id in excluded,
        )
        out.append(c)
    out.sort(key=lambda c: (not c.routed, c.eta.seconds, c.unit.id))
    return [replace(c, rank=n) for n, c in enumerate(out, 1)]
