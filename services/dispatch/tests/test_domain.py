"""Pure dispatch domain: response plans, travel times, the fleet index, ranking of
candidates and the assignment lifecycle (the city's geometry is icc_city's, tested there)."""

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icc_city.geo import distance_m
from icc_city.river import route
from icc_city.travel import CIRCUITY, SPEED_KMH, Eta, Period, period_of
from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.errors import IllegalTransition
from icc_dispatch.domain.eta import TravelModel, Trip
from icc_dispatch.domain.fleet import SCAN_BELOW, Fleet, cell_of
from icc_dispatch.domain.model import (
    SYSTEM,
    Agency,
    Assignment,
    AssignmentState,
    FleetUnit,
    Point,
    Priority,
    UnitKind,
    UnitStatus,
)
from icc_dispatch.domain.plans import PlanBook, ResponsePlan, UnknownType, local_hour, needs
from icc_dispatch.domain.ranking import (
    DEFAULT_MUTUAL_AID_ETA_S,
    Recommendation,
    minutes,
    rank,
    shortlist,
)

REPO = Path(__file__).resolve().parents[3]
PLANS_JSON = REPO / "services/dispatch/src/icc_dispatch/data/response_plans.json"
TYPES_JSON = REPO / "services/incidents/src/icc_incidents/data/incident_types.json"

# 10:00 UTC is 17:00 in Ho Chi Minh City (UTC+7): evening rush hour.
RUSH = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
NOON = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 12:00 local
NIGHT = datetime(2026, 11, 24, 19, 30, tzinfo=UTC)  # 02:30 local, next day

# Central Saigon (District 1, west bank) and Thủ Thiêm (east bank).
SAIGON = Point(10.7769, 106.7009)
SAIGON_NEAR = Point(10.7800, 106.6950)
THU_THIEM = Point(10.7800, 106.7300)

K = UnitKind


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def book() -> PlanBook:
    return PlanBook.from_data(load_json(PLANS_JSON))


def counts(plan: ResponsePlan) -> dict[str, int]:
    return {i.role: i.count for i in plan.items}


# --- plans ---------------------------------------------------------------------------


def test_shipped_plans_cover_exactly_the_incident_types(book: PlanBook) -> None:
    types = {t["code"] for t in load_json(TYPES_JSON)["types"]}
    assert len(types) >= 40
    assert book.codes == types


def test_structure_fire_p1_plan(book: PlanBook) -> None:
    plan = book.plan_at_hour("FIRE.STRUCTURE", Priority.P1, 12)
    assert plan.variant == "default"
    assert plan.type_code == "FIRE.STRUCTURE"
    by_kind: dict[UnitKind, int] = {}
    for item in plan.items:
        by_kind[item.kinds[0]] = by_kind.get(item.kinds[0], 0) + item.count
    assert by_kind[K.ENGINE] == 2
    assert by_kind[K.LADDER] == 1
    ambulance = next(i for i in plan.items if i.agency is Agency.MEDICAL)
    assert ambulance.count == 1
    assert set(ambulance.kinds) <= {K.AMBULANCE_ALS, K.AMBULANCE_BLS}
    police = next(i for i in plan.items if i.agency is Agency.POLICE)
    assert police.count == 1
    # The first wave leads the plan.
    firsts = [i.first for i in plan.items]
    assert firsts == sorted(firsts, reverse=True)
    assert plan.items[0].first
    assert plan.item("ladder") is not None
    assert plan.item("no-such-role") is None


def test_lower_priority_variant_sends_fewer_units(book: PlanBook) -> None:
    p1 = book.plan_at_hour("FIRE.STRUCTURE", Priority.P1, 12)
    p3 = book.plan_at_hour("FIRE.STRUCTURE", Priority.P3, 12)
    assert p3.variant == "priorities 3,4"
    assert sum(counts(p3).values()) < sum(counts(p1).values())
    assert counts(p3) == {"engine": 1}


def test_hours_variant_differs_from_default(book: PlanBook) -> None:
    rush = book.plan_at_hour("TRAFFIC.COLLISION_INJURY", Priority.P2, 17)
    noon = book.plan_at_hour("TRAFFIC.COLLISION_INJURY", Priority.P2, 12)
    assert rush.variant == "hours 16-19"
    assert noon.variant == "default"
    assert rush.items != noon.items
    assert "first_responder" in counts(rush)
    assert "first_responder" not in counts(noon)
    # `plan` reads the local hour off an instant: 10:00 UTC is 17:00 in the city.
    assert book.plan("TRAFFIC.COLLISION_INJURY", Priority.P2, RUSH) == rush
    assert book.plan("TRAFFIC.COLLISION_INJURY", Priority.P2, NOON) == noon


def _item(role: str, count: int = 1, kinds: tuple[str, ...] = ("ENGINE",)) -> dict[str, Any]:
    return {"role": role, "agency": "FIRE", "kinds": list(kinds), "count": count}


def test_hour_window_wraps_around_midnight() -> None:
    book = PlanBook.from_data(
        {
            "plans": {
                "TEST.NIGHT": {
                    "items": [_item("day")],
                    "variants": [{"when": {"hours": [22, 6]}, "items": [_item("night", 2)]}],
                }
            }
        }
    )
    for hour in (22, 23, 0, 3, 5):
        plan = book.plan_at_hour("TEST.NIGHT", Priority.P2, hour)
        assert counts(plan) == {"night": 2}, hour
        assert plan.variant == "hours 22-6"
    for hour in (6, 12, 21):
        plan = book.plan_at_hour("TEST.NIGHT", Priority.P2, hour)
        assert counts(plan) == {"day": 1}, hour
        assert plan.variant == "default"


def test_first_matching_variant_wins_and_priority_and_hours_combine() -> None:
    book = PlanBook.from_data(
        {
            "plans": {
                "TEST.X": {
                    "items": [_item("default")],
                    "variants": [
                        {"when": {"priorities": [1], "hours": [8, 10]}, "items": [_item("a")]},
                        {"when": {"priorities": [1, 2]}, "items": [_item("b")]},
                    ],
                }
            }
        }
    )
    assert counts(book.plan_at_hour("TEST.X", Priority.P1, 9)) == {"a": 1}
    assert counts(book.plan_at_hour("TEST.X", Priority.P1, 10)) == {"b": 1}
    assert counts(book.plan_at_hour("TEST.X", Priority.P2, 9)) == {"b": 1}
    assert counts(book.plan_at_hour("TEST.X", Priority.P3, 9)) == {"default": 1}


def test_bad_plan_entry_names_the_code() -> None:
    with pytest.raises(ValueError, match=r"TEST\.BAD"):
        PlanBook.from_data({"plans": {"TEST.BAD": {"items": [_item("x", count=0)]}}})
    with pytest.raises(ValueError, match=r"TEST\.BAD"):
        PlanBook.from_data({"plans": {"TEST.BAD": {"items": [_item("x", kinds=("TANK",))]}}})


def test_unknown_type_raises(book: PlanBook) -> None:
    with pytest.raises(UnknownType) as err:
        book.plan_at_hour("NOPE.NOTHING", Priority.P1, 12)
    assert err.value.type_code == "NOPE.NOTHING"
    assert "NOPE.NOTHING" in str(err.value)
    with pytest.raises(UnknownType):
        book.plan("NOPE.NOTHING", Priority.P1, NOON)


def assignment(
    role: str,
    state: AssignmentState = AssignmentState.ASSIGNED,
    *,
    id: str = "a1",
    vacated: bool = False,
    release_reason: str = "",
) -> Assignment:
    return Assignment(
        id=id,
        incident_id="i1",
        unit_id=f"u-{id}",
        call_sign=f"CS-{id}",
        agency=Agency.FIRE,
        kind=K.ENGINE,
        role=role,
        state=state,
        eta_s=300,
        request_id="r1",
        assigned_by=SYSTEM,
        create_time=NOON,
        vacated=vacated,
        release_reason=release_reason,
    )


def test_needs_counts_active_and_served_but_not_vacated(book: PlanBook) -> None:
    plan = book.plan_at_hour("FIRE.STRUCTURE", Priority.P1, 12)
    full = {n.item.role: n.missing for n in needs(plan, [])}
    assert full == counts(plan)

    held = [
        assignment("engine", AssignmentState.ASSIGNED, id="e1"),
        # Released after serving: still fills its role.
        assignment("engine", AssignmentState.RELEASED, id="e2", vacated=False),
        # Released before serving: the role is open again.
        assignment("ladder", AssignmentState.RELEASED, id="l1", vacated=True),
        # Being reserved: holds its role.
        assignment("ambulance", AssignmentState.PROPOSED, id="m1"),
    ]
    missing = {n.item.role: n.missing for n in needs(plan, held)}
    assert missing == {"ladder": 1, "traffic_control": 1}
    # Plan order is kept: the first wave (ladder) comes before the police.
    assert [n.item.role for n in needs(plan, held)] == ["ladder", "traffic_control"]

    one_engine = [assignment("engine", AssignmentState.ACKNOWLEDGED, id="e1")]
    assert {n.item.role: n.missing for n in needs(plan, one_engine)}["engine"] == 1


# --- travel times --------------------------------------------------------------------


def test_cross_river_trip_goes_via_a_crossing() -> None:
    model = TravelModel()
    eta = model.eta(Trip(K.AMBULANCE_ALS, SAIGON), THU_THIEM, 12)
    assert eta.via is not None
    straight = distance_m(SAIGON, THU_THIEM)
    assert eta.meters > straight * CIRCUITY
    routed = route(SAIGON, THU_THIEM)
    assert routed.via is not None and routed.via.name == eta.via
    assert eta.meters == round(routed.length_m * CIRCUITY)
    speed = SPEED_KMH["car"][Period.DAY] / 3.6
    assert eta.seconds == round(routed.length_m * CIRCUITY / speed)
    assert eta.seconds > straight * CIRCUITY / speed

    same_bank = model.eta(Trip(K.AMBULANCE_ALS, SAIGON), SAIGON_NEAR, 12)
    assert same_bank.via is None
    assert same_bank.meters == round(distance_m(SAIGON, SAIGON_NEAR) * CIRCUITY)


def test_motorbike_beats_ambulance_in_rush_hour_and_night_beats_rush() -> None:
    model = TravelModel()
    rush, night = local_hour(RUSH), local_hour(NIGHT)
    assert period_of(rush) is Period.RUSH
    assert period_of(night) is Period.NIGHT
    bike_rush = model.eta(Trip(K.MOTORBIKE_RESPONDER, SAIGON), THU_THIEM, rush)
    als_rush = model.eta(Trip(K.AMBULANCE_ALS, SAIGON), THU_THIEM, rush)
    assert bike_rush.meters == als_rush.meters
    assert bike_rush.seconds < als_rush.seconds
    bike_night = model.eta(Trip(K.MOTORBIKE_RESPONDER, SAIGON), THU_THIEM, night)
    als_night = model.eta(Trip(K.AMBULANCE_ALS, SAIGON), THU_THIEM, night)
    assert bike_night.seconds < bike_rush.seconds
    assert als_night.seconds < als_rush.seconds
    # Heavy trucks are the slowest in rush hour.
    engine_rush = model.eta(Trip(K.ENGINE, SAIGON), THU_THIEM, rush)
    assert engine_rush.seconds > als_rush.seconds


async def test_travel_model_provider_uses_local_hour() -> None:
    model = TravelModel()
    trips = [Trip(K.MOTORBIKE_RESPONDER, SAIGON), Trip(K.ENGINE, SAIGON_NEAR)]
    got = await model.etas(trips, THU_THIEM, RUSH)
    assert got == [model.eta(t, THU_THIEM, 17) for t in trips]
    assert model.source == "travel-model"


def test_local_hour_is_utc_plus_seven() -> None:
    assert local_hour(datetime(2026, 11, 24, 10, 0, tzinfo=UTC)) == 17
    assert local_hour(datetime(2026, 11, 24, 0, 0, tzinfo=UTC)) == 7
    assert local_hour(datetime(2026, 11, 24, 20, 59, tzinfo=UTC)) == 3
    assert local_hour(datetime(2026, 11, 24, 17, 0, tzinfo=UTC)) == 0
    # Any aware instant: 12:00 in Paris (UTC+1) is 18:00 in the city.
    assert local_hour(datetime(2026, 11, 24, 12, 0, tzinfo=timezone(timedelta(hours=1)))) == 18


# --- fleet ----------------------------------------------------------------------------


def unit(
    id: str,
    at: Point,
    kind: UnitKind = K.ENGINE,
    *,
    station: str = "S1",
    status: UnitStatus = UnitStatus.AVAILABLE,
    position: Point | None = None,
    version: int = 0,
    agency: Agency | None = None,
    incident_id: str | None = None,
) -> FleetUnit:
    if agency is None:
        agency = {
            K.AMBULANCE_ALS: Agency.MEDICAL,
            K.AMBULANCE_BLS: Agency.MEDICAL,
            K.MOTORBIKE_RESPONDER: Agency.MEDICAL,
            K.PATROL_CAR: Agency.POLICE,
            K.POLICE_MOTORBIKE: Agency.POLICE,
            K.TRAFFIC_MOTORBIKE: Agency.POLICE,
        }.get(kind, Agency.FIRE)
    return FleetUnit(
        id=id,
        call_sign=id.upper(),
        agency=agency,
        kind=kind,
        status=status,
        home_station=station,
        home=at,
        incident_id=incident_id,
        position=position,
        version=version,
    )


def brute_nearest(
    fleet: Fleet, kind: UnitKind, point: Point, n: int, exclude: set[str]
) -> list[tuple[float, str]]:
    pool = [
        (distance_m(point, u.location), u.id)
        for u in fleet.units.values()
        if u.kind is kind and u.available and u.id not in exclude and u.id not in fleet.held
    ]
    return sorted(pool)[: max(n, 0)]


LAT = st.floats(10.6, 11.0, allow_nan=False)
LON = st.floats(106.5, 106.9, allow_nan=False)
# (lat, lon, located-by-position?, excluded?, held?)
TARGET = st.tuples(LAT, LON, st.booleans(), st.integers(0, 9), st.integers(0, 19))
# (lat, lon, kind, status)
OTHER = st.tuples(
    LAT,
    LON,
    st.sampled_from([K.ENGINE, K.LADDER, K.AMBULANCE_ALS]),
    st.sampled_from(list(UnitStatus)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    targets=st.one_of(
        # Scanned: at most SCAN_BELOW available units of the kind.
        st.lists(TARGET, max_size=SCAN_BELOW, unique_by=lambda t: (t[0], t[1])),
        # Ring search over the grid.
        st.lists(TARGET, min_size=SCAN_BELOW + 1, max_size=260, unique_by=lambda t: (t[0], t[1])),
    ),
    others=st.lists(OTHER, max_size=40),
    point=st.tuples(LAT, LON),
    n=st.integers(0, 30),
)
def test_nearest_matches_brute_force(
    targets: list[tuple[float, float, bool, int, int]],
    others: list[tuple[float, float, UnitKind, UnitStatus]],
    point: tuple[float, float],
    n: int,
) -> None:
    units = []
    exclude: set[str] = set()
    held: set[str] = set()
    far_home = Point(10.95, 106.55)
    for i, (lat, lon, by_position, ex, hd) in enumerate(targets):
        uid = f"t{i:03d}"
        where = Point(lat, lon)
        if by_position:
            # A fresh position wins over the home station.
            units.append(unit(uid, far_home, position=where, station=f"S{i % 7}"))
        else:
            units.append(unit(uid, where, station=f"S{i % 7}"))
        if ex == 0:
            exclude.add(uid)
        if hd == 0:
            held.add(uid)
    for i, (lat, lon, kind, status) in enumerate(others):
        units.append(unit(f"o{i:03d}", Point(lat, lon), kind, status=status))
    fleet = Fleet(units)
    fleet.held |= held
    if len(targets) > SCAN_BELOW:
        assert fleet.available_count(K.ENGINE) > SCAN_BELOW  # the ring search runs
    here = Point(*point)
    expected = brute_nearest(fleet, K.ENGINE, here, n, exclude)
    got = fleet.nearest(K.ENGINE, here, n, frozenset(exclude))
    assert [u.id for _, u in got] == [uid for _, uid in expected]
    assert [d for d, _ in got] == [d for d, _ in expected]
    for _, u in got:
        assert u.kind is K.ENGINE and u.available


def _ring_fleet(extra: list[FleetUnit]) -> Fleet:
    # Enough far-away engines that the kind is searched by rings, not scanned.
    filler = [
        unit(f"z{i:02d}", Point(10.95, 106.55 + i * 0.002), station="FAR")
        for i in range(SCAN_BELOW + 5)
    ]
    fleet = Fleet(extra + filler)
    assert fleet.available_count(K.ENGINE) > SCAN_BELOW
    return fleet


def test_nearest_orders_ties_by_id_in_ring_search() -> None:
    # Six engines at their shared home station (no position): equidistant from anywhere.
    # They sit in the incident's own cell (ring 0); a nearer engine just across the
    # cell's edge (ring 1) is found after them and evicts one of the tied ones.
    here = Point(10.7701, 106.7050)
    home = Point(10.7790, 106.7050)
    near = unit("c", Point(10.7699, 106.7050))
    assert cell_of(home) == cell_of(here) != cell_of(near.home)
    at_home = [unit(f"t{i}", home) for i in range(6)]
    scanned = Fleet([near, *at_home]).nearest(K.ENGINE, here, 2)
    assert [u.id for _, u in scanned] == ["c", "t0"]
    ringed = _ring_fleet([near, *at_home]).nearest(K.ENGINE, here, 2)
    assert [u.id for _, u in ringed] == ["c", "t0"]


def test_nearest_ring_stop_bound_is_not_optimistic() -> None:
    here = Point(10.755, 106.709999)  # at the east edge of its cell
    a = unit("a", Point(10.755 + 1093.2 / 111_195, 106.709999))  # ring 1, due north
    b = unit("b", Point(10.755, 106.720001))  # ring 2, due east
    assert cell_of(a.home)[0] - cell_of(here)[0] == 1
    assert cell_of(b.home)[1] - cell_of(here)[1] == 2
    assert distance_m(here, b.home) < distance_m(here, a.home)
    got = _ring_fleet([a, b]).nearest(K.ENGINE, here, 1)
    assert [u.id for _, u in got] == ["b"]


def test_nearest_basics() -> None:
    fleet = Fleet(
        [
            unit("e1", Point(10.78, 106.70)),
            unit("e2", Point(10.79, 106.70)),
            unit("busy", Point(10.7769, 106.7009), status=UnitStatus.DISPATCHED),
            unit("tied", Point(10.7769, 106.7009), incident_id="i9"),
            unit("l1", Point(10.7769, 106.7009), K.LADDER),
        ]
    )
    got = fleet.nearest(K.ENGINE, SAIGON, 5)
    assert [u.id for _, u in got] == ["e1", "e2"]
    assert fleet.nearest(K.ENGINE, SAIGON, 0) == []
    assert fleet.nearest(K.HAZMAT, SAIGON, 3) == []
    assert [u.id for _, u in fleet.nearest(K.ENGINE, SAIGON, 5, {"e1"})] == ["e2"]
    fleet.held.add("e2")
    assert [u.id for _, u in fleet.nearest(K.ENGINE, SAIGON, 5)] == ["e1"]
    assert fleet.available_count(K.ENGINE) == 2
    assert fleet.available_count(K.LADDER) == 1


def test_put_ignores_older_version_and_keeps_position() -> None:
    fleet = Fleet()
    assert fleet.put(unit("e1", SAIGON, version=5, position=SAIGON_NEAR))
    assert not fleet.put(unit("e1", SAIGON, version=4, status=UnitStatus.OUT_OF_SERVICE))
    e1 = fleet.get("e1")
    assert e1 is not None and e1.version == 5 and e1.available
    assert fleet.available_count(K.ENGINE) == 1
    # Newer news without a position keeps the last known one.
    assert fleet.put(unit("e1", SAIGON, version=6))
    e1 = fleet.get("e1")
    assert e1 is not None and e1.location == SAIGON_NEAR
    # Newer news that the unit is busy takes it out of the index.
    assert fleet.put(unit("e1", SAIGON, version=7, status=UnitStatus.EN_ROUTE))
    assert fleet.available_count(K.ENGINE) == 0
    assert fleet.nearest(K.ENGINE, SAIGON, 1) == []
    assert len(fleet) == 1
    # And back again.
    assert fleet.put(unit("e1", SAIGON, version=8))
    assert [u.id for _, u in fleet.nearest(K.ENGINE, SAIGON, 1)] == ["e1"]


def test_move_reindexes() -> None:
    mover = unit("m", Point(10.70, 106.60))
    fleet = _ring_fleet([mover])
    target = Point(10.85, 106.75)
    # Before the move the nearest to the target is one of the far filler units.
    assert fleet.nearest(K.ENGINE, target, 1)[0][1].id != "m"
    fleet.move("m", Point(10.8501, 106.7501))
    (d, got), *_ = fleet.nearest(K.ENGINE, target, 1)
    assert got.id == "m"
    assert d == pytest.approx(distance_m(target, Point(10.8501, 106.7501)))
    # Seen from its old place, it is as far away as its new position.
    seen = {u.id: d for d, u in fleet.nearest(K.ENGINE, Point(10.70, 106.60), len(fleet))}
    assert seen["m"] == pytest.approx(distance_m(Point(10.70, 106.60), Point(10.8501, 106.7501)))
    assert seen["m"] > 20_000
    # A move within the same cell updates the distance.
    closer = Point(10.85002, 106.75002)
    assert cell_of(closer) == cell_of(Point(10.8501, 106.7501))
    fleet.move("m", closer)
    (d2, got2), *_ = fleet.nearest(K.ENGINE, target, 1)
    assert got2.id == "m" and d2 < d
    assert fleet.available_count(K.ENGINE) == SCAN_BELOW + 6
    fleet.move("nobody", target)  # no error
    assert fleet.get("nobody") is None


def test_coverage_left() -> None:
    e1, e2, e3 = (unit(f"e{i}", SAIGON, station="S1") for i in (1, 2, 3))
    fleet = Fleet(
        [
            e1,
            e2,
            e3,
            unit("busy", SAIGON, station="S1", status=UnitStatus.ON_SCENE),
            unit("l1", SAIGON, K.LADDER, station="S1"),
            unit("other", SAIGON, station="S2"),
        ]
    )
    assert fleet.coverage_left(e1) == 2
    fleet.held.add("e2")
    assert fleet.coverage_left(e1) == 1
    assert fleet.coverage_left(e2) == 2
    fleet.put(unit("e3", SAIGON, station="S1", status=UnitStatus.DISPATCHED, version=1))
    assert fleet.coverage_left(e1) == 0
    l1 = fleet.get("l1")
    assert l1 is not None and fleet.coverage_left(l1) == 0
    other = fleet.get("other")
    assert other is not None and fleet.coverage_left(other) == 0


# --- ranking --------------------------------------------------------------------------


def west(km: float) -> Point:
    """A point on the west bank `km` due west of central Saigon."""
    return Point(SAIGON.lat, SAIGON.lon - km / 109.3)


def recommend(
    plan: ResponsePlan,
    fleet: Fleet,
    *,
    per_role: int = 3,
    hour: int = 12,
    mutual_aid_eta_s: int = DEFAULT_MUTUAL_AID_ETA_S,
) -> tuple[Recommendation, dict[str, Eta | None]]:
    lists = shortlist(needs(plan, []), fleet, SAIGON, per_role)
    model = TravelModel()
    etas: dict[str, Eta | None] = {
        u.id: model.eta(Trip(u.kind, u.location), SAIGON, hour)
        for sl in lists
        for u in (*sl.units, *sl.stand_ins)
    }
    rec = rank(
        "i1",
        plan,
        lists,
        etas,
        fleet,
        per_role=per_role,
        eta_source=model.source,
        now=NOON,
        mutual_aid_eta_s=mutual_aid_eta_s,
    )
    return rec, etas


def selected(rec: Recommendation) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in rec.selected:
        out.setdefault(c.role, []).append(c.unit.id)
    return out


def test_rank_selects_nearest_per_role_and_reports_shortfall(book: PlanBook) -> None:
    plan = book.plan_at_hour("FIRE.STRUCTURE", Priority.P1, 12)
    fleet = Fleet(
        [
            unit("e3", west(3.0), station="S3"),
            unit("e1", west(0.5), station="S1"),
            unit("e4", west(4.0), station="S4"),
            unit("e2", west(1.0), station="S2"),
            unit("l1", west(1.5), K.LADDER, station="S1"),
            unit("l2", west(2.5), K.LADDER, station="S2"),
            unit("a1", west(1.0), K.AMBULANCE_BLS, station="H1"),
            unit("a2", west(1.2), K.AMBULANCE_ALS, station="H1"),
            # No police at all.
        ]
    )
    rec, etas = recommend(plan, fleet)
    assert selected(rec) == {"engine": ["e1", "e2"], "ladder": ["l1"], "ambulance": ["a2"]}
    # The ALS is planned first: the BLS pays a penalty that outweighs its shorter trip.
    a1 = next(c for c in rec.candidates if c.unit.id == "a1")
    assert not a1.selected
    assert any("in place of AMBULANCE_ALS" in r for r in a1.reasons)

    assert len(rec.shortfalls) == 1
    short = rec.shortfalls[0]
    assert short.role == "traffic_control"
    assert short.agency is Agency.POLICE
    assert short.missing == 1
    assert "TRAFFIC_MOTORBIKE" in short.reason
    assert not rec.mutual_aid
    assert rec.eta_source == "travel-model"
    assert rec.create_time == NOON

    engines = [c for c in rec.candidates if c.role == "engine"]
    assert [c.unit.id for c in engines] == ["e1", "e2", "e3"]
    assert [c.rank for c in engines] == [1, 2, 3]
    assert [c.selected for c in engines] == [True, True, False]
    e1 = engines[0]
    eta = etas["e1"]
    assert eta is not None and e1.eta == eta
    assert f"ETA {minutes(eta.seconds)}, {eta.meters / 1000:.1f} km" in e1.reasons
    assert "ENGINE as planned" in e1.reasons
    assert "leaves no ENGINE at S1" in e1.reasons
    assert e1.coverage_left == 0


def test_unit_is_never_selected_for_two_roles() -> None:
    book = PlanBook.from_data(
        {
            "plans": {
                "TEST.TWO": {
                    "items": [
                        {**_item("lead", 1), "first": True},
                        _item("backup", 2),
                    ]
                }
            }
        }
    )
    plan = book.plan_at_hour("TEST.TWO", Priority.P1, 12)
    fleet = Fleet([unit("e1", west(0.5)), unit("e2", west(1.0))])
    rec, _ = recommend(plan, fleet)
    assert selected(rec) == {"lead": ["e1"], "backup": ["e2"]}
    ids = [c.unit.id for c in rec.selected]
    assert len(ids) == len(set(ids))
    # e1 is shown under backup too, but not selected twice.
    backup = [c for c in rec.candidates if c.role == "backup"]
    assert {c.unit.id: c.selected for c in backup} == {"e1": False, "e2": True}
    assert [(s.role, s.missing) for s in rec.shortfalls] == [("backup", 1)]


def test_medical_role_falls_back_to_fire_rescue_within_reach(book: PlanBook) -> None:
    plan = book.plan_at_hour("MEDICAL.CARDIAC_ARREST", Priority.P1, 12)
    medical = [i for i in plan.items if i.agency is Agency.MEDICAL]
    assert medical, "the cardiac arrest plan calls for medical units"
    fleet = Fleet(
        [
            # Ambulances only very far away: beyond the mutual-aid threshold.
            unit("far-als", west(30.0), K.AMBULANCE_ALS, station="H9"),
            unit("far-bls", west(31.0), K.AMBULANCE_BLS, station="H9"),
            unit("far-bike", west(32.0), K.MOTORBIKE_RESPONDER, station="H9"),
            unit("r1", west(1.0), K.RESCUE, station="S1"),
            unit("r2", west(2.0), K.RESCUE, station="S2"),
            unit("r3", west(3.0), K.RESCUE, station="S3"),
            unit("r4", west(4.0), K.RESCUE, station="S4"),
        ]
    )
    rec, etas = recommend(plan, fleet)
    assert rec.mutual_aid
    # The nearest rescue crew stands in for the first role, the next for the second.
    assert selected(rec) == {"ambulance": ["r1"], "first_responder": ["r2"]}
    assert rec.shortfalls == ()
    for item in medical:
        if K.RESCUE in item.kinds:
            continue
        chosen = [c for c in rec.selected if c.role == item.role]
        assert len(chosen) == item.count
        for c in chosen:
            assert c.unit.kind is K.RESCUE
            assert c.mutual_aid
            assert c.reasons[0].startswith("FIRE RESCUE stands in: no MEDICAL unit within")
            eta = etas[c.unit.id]
            assert eta is not None
            assert f"ETA {minutes(eta.seconds)}, {eta.meters / 1000:.1f} km" in c.reasons
            assert eta.seconds <= DEFAULT_MUTUAL_AID_ETA_S
    stand_ins = [c.unit.id for c in rec.selected if c.unit.kind is K.RESCUE]
    assert stand_ins and len(stand_ins) == len(set(stand_ins))
    # The far planned units are shown, marked as mutual aid, and not chosen.
    far = [c for c in rec.candidates if c.unit.id.startswith("far-")]
    assert far
    for c in far:
        assert c.mutual_aid and not c.selected
        assert any(r.startswith("beyond 15 min 00 s: mutual aid") for r in c.reasons)


def test_far_planned_unit_is_selected_as_mutual_aid_when_nothing_else() -> None:
    book = PlanBook.from_data(
        {
            "plans": {
                "TEST.MED": {
                    "items": [
                        {
                            "role": "ambulance",
                            "agency": "MEDICAL",
                            "kinds": ["AMBULANCE_ALS"],
                            "count": 1,
                        }
                    ]
                }
            }
        }
    )
    plan = book.plan_at_hour("TEST.MED", Priority.P1, 12)
    # A rescue crew exists but it too is out of reach: no stand-in.
    fleet = Fleet(
        [
            unit("far-als", west(30.0), K.AMBULANCE_ALS, station="H9"),
            unit("far-r", west(30.0), K.RESCUE, station="S9"),
        ]
    )
    rec, etas = recommend(plan, fleet)
    (c,) = rec.selected
    assert c.unit.id == "far-als"
    assert c.mutual_aid
    eta = etas["far-als"]
    assert eta is not None and eta.seconds > DEFAULT_MUTUAL_AID_ETA_S
    assert "beyond 15 min 00 s: mutual aid from a neighbouring zone" in c.reasons
    assert rec.shortfalls == ()
    # With a threshold beyond its ETA, it is an ordinary candidate.
    rec2, _ = recommend(plan, fleet, mutual_aid_eta_s=eta.seconds + 1)
    (c2,) = rec2.selected
    assert c2.unit.id == "far-als" and not c2.mutual_aid
    assert not rec2.mutual_aid


def test_rank_mentions_river_crossing_and_skips_units_without_route(book: PlanBook) -> None:
    plan = book.plan_at_hour("FIRE.STRUCTURE", Priority.P3, 12)  # one engine
    fleet = Fleet([unit("east", THU_THIEM, station="S7"), unit("noroute", west(0.2), station="S1")])
    lists = shortlist(needs(plan, []), fleet, SAIGON, 3)
    eta = TravelModel().eta(Trip(K.ENGINE, THU_THIEM), SAIGON, 12)
    rec = rank(
        "i1",
        plan,
        lists,
        {"east": eta, "noroute": None},
        fleet,
        per_role=3,
        eta_source="osrm",
        now=NOON,
    )
    (c,) = rec.candidates
    assert c.unit.id == "east" and c.selected
    assert f"crosses the Saigon river at {eta.via}" in c.reasons


def test_minutes() -> None:
    assert minutes(0) == "0 s"
    assert minutes(59) == "59 s"
    assert minutes(61) == "1 min 01 s"
    assert minutes(900) == "15 min 00 s"
    assert minutes(-5) == "0 s"


# --- lifecycle ------------------------------------------------------------------------


def test_confirm_assigns_with_deadline() -> None:
    a = assignment("engine", AssignmentState.PROPOSED)
    done = lifecycle.confirm(a, NOON, timedelta(seconds=90))
    assert done.state is AssignmentState.ASSIGNED
    assert done.assign_time == NOON
    assert done.ack_deadline == NOON + timedelta(seconds=90)
    # Confirming again changes nothing.
    assert lifecycle.confirm(done, NOON + timedelta(minutes=5), timedelta(seconds=90)) == done


def test_acknowledge_is_idempotent() -> None:
    a = lifecycle.confirm(
        assignment("engine", AssignmentState.PROPOSED), NOON, timedelta(seconds=60)
    )
    ack = lifecycle.acknowledge(a, NOON + timedelta(seconds=30))
    assert ack.state is AssignmentState.ACKNOWLEDGED
    assert ack.ack_time == NOON + timedelta(seconds=30)
    again = lifecycle.acknowledge(ack, NOON + timedelta(seconds=45))
    assert again == ack
    assert again.ack_time == NOON + timedelta(seconds=30)


def test_acknowledge_after_release_or_before_assignment_is_illegal() -> None:
    a = assignment("engine", AssignmentState.ASSIGNED, id="a7")
    gone = lifecycle.release(a, NOON, "not acknowledged in time", tell_resources=True)
    with pytest.raises(IllegalTransition) as err:
        lifecycle.acknowledge(gone, NOON)
    msg = str(err.value)
    assert "assignments/a7" in msg
    assert "released" in msg
    assert "not acknowledged in time" in msg
    with pytest.raises(IllegalTransition, match="still being reserved"):
        lifecycle.acknowledge(assignment("engine", AssignmentState.PROPOSED), NOON)


def test_release() -> None:
    proposed = assignment("engine", AssignmentState.PROPOSED)
    r = lifecycle.release(proposed, NOON, "reservation lost", tell_resources=True, vacated=True)
    assert r.state is AssignmentState.RELEASED
    assert r.release_pending is False
    assert r.vacated and not r.fills_role
    assert r.release_time == NOON and r.release_reason == "reservation lost"

    assigned = assignment("engine", AssignmentState.ASSIGNED)
    r2 = lifecycle.release(assigned, NOON, "cleared", tell_resources=True)
    assert r2.release_pending is True
    assert not r2.vacated and r2.fills_role and not r2.active
    r3 = lifecycle.release(assigned, NOON, "freed elsewhere", tell_resources=False)
    assert r3.release_pending is False
    # Releasing twice keeps the first release.
    assert lifecycle.release(r2, NOON + timedelta(hours=1), "again", tell_resources=False) == r2


def test_overdue_only_when_assigned_past_deadline() -> None:
    a = lifecycle.confirm(
        assignment("engine", AssignmentState.PROPOSED), NOON, timedelta(seconds=60)
    )
    deadline = NOON + timedelta(seconds=60)
    assert not lifecycle.overdue(a, NOON + timedelta(seconds=59))
    assert lifecycle.overdue(a, deadline)
    assert lifecycle.overdue(a, deadline + timedelta(seconds=1))
    ack = lifecycle.acknowledge(a, NOON + timedelta(seconds=10))
    assert not lifecycle.overdue(ack, deadline + timedelta(hours=1))
    gone = lifecycle.release(a, NOON, "x", tell_resources=False)
    assert not lifecycle.overdue(gone, deadline + timedelta(hours=1))
    proposed = assignment("engine", AssignmentState.PROPOSED)
    assert not lifecycle.overdue(proposed, deadline + timedelta(hours=1))


def test_with_unit_version() -> None:
    a = assignment("engine")
    assert lifecycle.with_unit_version(a, 12).unit_version == 12


def test_a_unit_moved_to_another_station_or_kind_is_refiled() -> None:
    fleet = Fleet([unit("e1", Point(10.77, 106.70), station="S1")])
    fleet.put(unit("e1", Point(10.80, 106.66), K.LADDER, station="S2", version=1))
    assert fleet.nearest(K.ENGINE, Point(10.77, 106.70), 5) == []
    assert [u.id for _, u in fleet.nearest(K.LADDER, Point(10.77, 106.70), 5)] == ["e1"]
    other = unit("l2", Point(10.80, 106.66), K.LADDER, station="S2")
    fleet.put(other)
    assert fleet.coverage_left(other) == 1
