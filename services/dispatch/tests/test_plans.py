"""Response plans and what an incident still needs; travel times at the city's hour."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from icc_city.geo import distance_m
from icc_city.river import route
from icc_city.travel import CIRCUITY, SPEED_KMH, Period, period_of
from icc_dispatch.domain.eta import TravelModel, Trip
from icc_dispatch.domain.model import (
    Agency,
    AssignmentState,
    Priority,
    UnitKind,
)
from icc_dispatch.domain.plans import PlanBook, ResponsePlan, UnknownType, local_hour, needs
from icc_kernel.vocabulary import EtaSource

from .conftest import (
    NIGHT,
    NOON,
    RUSH,
    SAIGON,
    SAIGON_NEAR,
    THU_THIEM,
    TYPES_JSON,
    K,
    assignment,
    item_data,
    load_json,
)


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


def test_hour_window_wraps_around_midnight() -> None:
    book = PlanBook.from_data(
        {
            "plans": {
                "TEST.NIGHT": {
                    "items": [item_data("day")],
                    "variants": [{"when": {"hours": [22, 6]}, "items": [item_data("night", 2)]}],
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
                    "items": [item_data("default")],
                    "variants": [
                        {"when": {"priorities": [1], "hours": [8, 10]}, "items": [item_data("a")]},
                        {"when": {"priorities": [1, 2]}, "items": [item_data("b")]},
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
        PlanBook.from_data({"plans": {"TEST.BAD": {"items": [item_data("x", count=0)]}}})
    with pytest.raises(ValueError, match=r"TEST\.BAD"):
        PlanBook.from_data({"plans": {"TEST.BAD": {"items": [item_data("x", kinds=("TANK",))]}}})


def test_unknown_type_raises(book: PlanBook) -> None:
    with pytest.raises(UnknownType) as err:
        book.plan_at_hour("NOPE.NOTHING", Priority.P1, 12)
    assert err.value.type_code == "NOPE.NOTHING"
    assert "NOPE.NOTHING" in str(err.value)
    with pytest.raises(UnknownType):
        book.plan("NOPE.NOTHING", Priority.P1, NOON)


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
    assert model.source is EtaSource.TRAVEL_MODEL


def test_local_hour_is_utc_plus_seven() -> None:
    assert local_hour(datetime(2026, 11, 24, 10, 0, tzinfo=UTC)) == 17
    assert local_hour(datetime(2026, 11, 24, 0, 0, tzinfo=UTC)) == 7
    assert local_hour(datetime(2026, 11, 24, 20, 59, tzinfo=UTC)) == 3
    assert local_hour(datetime(2026, 11, 24, 17, 0, tzinfo=UTC)) == 0
    # Any aware instant: 12:00 in Paris (UTC+1) is 18:00 in the city.
    assert local_hour(datetime(2026, 11, 24, 12, 0, tzinfo=timezone(timedelta(hours=1)))) == 18
