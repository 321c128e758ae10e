"""Ranking candidates: per role, stand-ins, mutual aid, reasons."""

from icc_city.travel import Eta
from icc_dispatch.domain.eta import TravelModel, Trip
from icc_dispatch.domain.fleet import Fleet
from icc_dispatch.domain.model import (
    Agency,
    Point,
    Priority,
)
from icc_dispatch.domain.plans import PlanBook, ResponsePlan, needs
from icc_dispatch.domain.ranking import (
    DEFAULT_MUTUAL_AID_ETA_S,
    Candidate,
    Recommendation,
    rank,
    rank_available,
    shortlist,
)
from icc_kernel.reasons import Reason, ReasonCode, minutes
from icc_kernel.vocabulary import EtaSource

from .conftest import (
    NOON,
    SAIGON,
    THU_THIEM,
    K,
    item_data,
    unit,
)


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


R = ReasonCode


def words(c: Candidate) -> list[str]:
    """The candidate's reasons in the English older clients read."""
    return [r.english for r in c.reasons]


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
    in_place = Reason.of(R.KIND_IN_PLACE_OF, kind=K.AMBULANCE_BLS, planned_kind=K.AMBULANCE_ALS)
    assert in_place in a1.reasons
    assert "AMBULANCE_BLS in place of AMBULANCE_ALS" in words(a1)

    assert len(rec.shortfalls) == 1
    short = rec.shortfalls[0]
    assert short.role == "traffic_control"
    assert short.agency is Agency.POLICE
    assert short.missing == 1
    assert short.reason.code is R.NO_UNIT_AVAILABLE
    assert "TRAFFIC_MOTORBIKE" in short.reason.get("kinds").split(",")
    assert not rec.mutual_aid
    assert rec.eta_source is EtaSource.TRAVEL_MODEL
    assert rec.create_time == NOON

    engines = [c for c in rec.candidates if c.role == "engine"]
    assert [c.unit.id for c in engines] == ["e1", "e2", "e3"]
    assert [c.rank for c in engines] == [1, 2, 3]
    assert [c.selected for c in engines] == [True, True, False]
    e1 = engines[0]
    eta = etas["e1"]
    assert eta is not None and e1.eta == eta
    assert e1.reasons == (
        Reason.of(R.KIND_AS_PLANNED, kind=K.ENGINE),
        Reason.of(R.ETA, eta_seconds=eta.seconds, distance_meters=eta.meters),
        Reason.of(R.STATION_LEFT_WITHOUT, kind=K.ENGINE, station="stations/S1"),
    )
    assert words(e1) == [
        "ENGINE as planned",
        f"ETA {minutes(eta.seconds)}, {eta.meters / 1000:.1f} km",
        "leaves no ENGINE at S1",
    ]
    assert e1.coverage_left == 0


def test_unit_is_never_selected_for_two_roles() -> None:
    book = PlanBook.from_data(
        {
            "plans": {
                "TEST.TWO": {
                    "items": [
                        {**item_data("lead", 1), "first": True},
                        item_data("backup", 2),
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
            assert c.reasons[0] == Reason.of(
                R.STANDS_IN,
                agency=Agency.FIRE,
                kind=K.RESCUE,
                planned_agency=Agency.MEDICAL,
                threshold_seconds=DEFAULT_MUTUAL_AID_ETA_S,
            )
            assert words(c)[0] == "FIRE RESCUE stands in: no MEDICAL unit within 15 min 00 s"
            eta = etas[c.unit.id]
            assert eta is not None
            assert f"ETA {minutes(eta.seconds)}, {eta.meters / 1000:.1f} km" in words(c)
            assert eta.seconds <= DEFAULT_MUTUAL_AID_ETA_S
    stand_ins = [c.unit.id for c in rec.selected if c.unit.kind is K.RESCUE]
    assert stand_ins and len(stand_ins) == len(set(stand_ins))
    # The far planned units are shown, marked as mutual aid, and not chosen.
    far = [c for c in rec.candidates if c.unit.id.startswith("far-")]
    assert far
    for c in far:
        assert c.mutual_aid and not c.selected
        assert Reason.of(R.BEYOND_MUTUAL_AID_ETA, threshold_seconds=900) in c.reasons
        assert c.far


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
    assert "beyond 15 min 00 s: mutual aid from a neighbouring zone" in words(c)
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
        eta_source=EtaSource.ROUTING_ENGINE,
        now=NOON,
    )
    (c,) = rec.candidates
    assert c.unit.id == "east" and c.selected
    assert Reason.of(R.CROSSES_RIVER, crossing=eta.via) in c.reasons
    assert f"crosses the Saigon river at {eta.via}" in words(c)


def test_between_equals_the_kind_the_plan_asks_for_is_chosen(book: PlanBook) -> None:
    # A sick person: the plan asks for a BLS ambulance, an ALS in its place.
    plan = book.plan_at_hour("MEDICAL.SICK_PERSON", Priority.P3, 12)
    (item,) = [i for i in plan.items if i.role == "ambulance"]
    assert item.kinds == (K.AMBULANCE_BLS, K.AMBULANCE_ALS)
    # One station, one BLS and two ALS: the same trip. Sending the BLS leaves the station
    # without one (which once tipped the choice to an ALS "in place of BLS").
    here = west(1.0)
    fleet = Fleet(
        [
            unit("als-1", here, K.AMBULANCE_ALS, station="H1"),
            unit("bls-1", here, K.AMBULANCE_BLS, station="H1"),
            unit("als-2", here, K.AMBULANCE_ALS, station="H1"),
        ]
    )
    rec, etas = recommend(plan, fleet)
    assert etas["bls-1"] == etas["als-1"]
    chosen = [c for c in rec.selected if c.role == "ambulance"]
    assert [c.unit.id for c in chosen] == ["bls-1"]
    assert chosen[0].reasons[0] == Reason.of(R.KIND_AS_PLANNED, kind=K.AMBULANCE_BLS)
    # An ALS clearly sooner (the BLS three kilometres further) goes in its place.
    fleet2 = Fleet(
        [
            unit("als-1", here, K.AMBULANCE_ALS, station="H1"),
            unit("bls-far", west(4.0), K.AMBULANCE_BLS, station="H2"),
        ]
    )
    rec2, _ = recommend(plan, fleet2)
    (c2,) = [c for c in rec2.selected if c.role == "ambulance"]
    assert c2.unit.id == "als-1"
    assert c2.reasons[0] == Reason.of(
        R.KIND_IN_PLACE_OF, kind=K.AMBULANCE_ALS, planned_kind=K.AMBULANCE_BLS
    )


def test_every_available_unit_ranked_by_eta_for_a_dispatchers_choice(book: PlanBook) -> None:
    plan = book.plan_at_hour("FIRE.STRUCTURE", Priority.P1, 12)
    fleet = Fleet(
        [
            unit("e-far", west(30.0), station="S9"),
            unit("e-near", west(0.5), station="S1"),
            unit("p1", west(1.0), K.PATROL_CAR, station="P1"),
            unit("e-noroute", west(0.2), station="S2"),
            unit("e-gone", west(0.1), station="S3"),
        ]
    )
    fleet.held.add("e-gone")  # being reserved for another incident
    units = fleet.available()
    assert {u.id for u in units} == {"e-far", "e-near", "p1", "e-noroute"}
    assert {u.id for u in fleet.available(frozenset({K.PATROL_CAR}))} == {"p1"}
    assert {u.id for u in fleet.available(agencies=frozenset({Agency.POLICE}))} == {"p1"}
    model = TravelModel()
    etas: dict[str, Eta | None] = {
        u.id: model.eta(Trip(u.kind, u.location), SAIGON, 12) for u in units
    }
    etas["e-noroute"] = None
    # The plan's engines are already there: an engine now fills no open role.
    open_items = [i for i in plan.items if i.role != "engine"]
    ranked = rank_available(
        units,
        etas,
        open_items,
        fleet,
        mutual_aid_eta_s=DEFAULT_MUTUAL_AID_ETA_S,
        excluded=frozenset({"e-near"}),
    )
    assert [c.unit.id for c in ranked] == ["e-near", "p1", "e-far", "e-noroute"]
    assert [c.rank for c in ranked] == [1, 2, 3, 4]
    near, patrol, far, noroute = ranked
    assert near.role == "additional"
    assert Reason(R.OUTSIDE_PLAN) in near.reasons
    assert Reason(R.ESCALATED_HERE_BEFORE) in near.reasons
    assert patrol.role == "traffic_control" and patrol.item is not None
    assert Reason.of(R.KIND_IN_PLACE_OF, kind=K.PATROL_CAR, planned_kind=K.TRAFFIC_MOTORBIKE) in (
        patrol.reasons
    )
    assert far.far and far.mutual_aid and not near.far and not near.mutual_aid
    assert Reason.of(R.BEYOND_MUTUAL_AID_ETA, threshold_seconds=900) in far.reasons
    assert not noroute.routed and noroute.eta.seconds == 0 and not noroute.far
    assert Reason(R.NO_ROUTE) in noroute.reasons
    assert not any(c.selected for c in ranked)
