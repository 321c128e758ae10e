"""The call generator: deterministic by seed, and shaped like the city (with tolerance)."""

import itertools
from collections import Counter

import pytest

from icc_city.area import service_area
from icc_city.geo import Point, distance_m
from icc_kernel.vocabulary import CallLine, Priority
from icc_simulator.world.calls import Call, CallGenerator, local_hour
from icc_simulator.world.city import city_model
from icc_simulator.world.model import Catalog, Family
from icc_simulator.world.scenarios import scenario

DAY = 86_400.0


def generate(catalog: Catalog, name: str, seed: int, per_hour: float, until_s: float) -> list[Call]:
    gen = CallGenerator(
        seed=seed, scenario=scenario(name), catalog=catalog, calls_per_s=per_hour / 3600
    )
    return gen.until(until_s)


def test_the_same_seed_gives_the_identical_stream(catalog: Catalog) -> None:
    a = generate(catalog, "flood", 7, 60, 6 * 3600)
    b = generate(catalog, "flood", 7, 60, 6 * 3600)
    assert len(a) > 300
    assert a == b  # every field, the made-up callers included
    assert [c.seq for c in a] == list(range(1, len(a) + 1))
    assert all(x.at_s <= y.at_s for x, y in itertools.pairwise(a))


def test_another_seed_gives_another_stream(catalog: Catalog) -> None:
    a = generate(catalog, "normal", 1, 60, 6 * 3600)
    b = generate(catalog, "normal", 2, 60, 6 * 3600)
    assert [(c.type_code, c.lat, c.lon) for c in a[:50]] != [
        (c.type_code, c.lat, c.lon) for c in b[:50]
    ]


def test_a_normal_day_follows_the_hour_of_day_mix(catalog: Catalog) -> None:
    # Three days at 150 calls an hour: ~10,000 calls, enough for rough hourly shares.
    calls = [c for c in generate(catalog, "normal", 5, 150, 3 * DAY) if not c.duplicate]
    per_hour: dict[Family, Counter[int]] = {f: Counter() for f in Family}
    for c in calls:
        per_hour[c.family][local_hour(0, c.at_s)] += 1

    def mean(family: Family, hours: range | list[int]) -> float:
        return sum(per_hour[family][h] for h in hours) / len(hours)

    traffic_peaks = mean(Family.TRAFFIC, [7, 8, 17, 18])
    assert traffic_peaks > 5 * mean(Family.TRAFFIC, range(1, 5)), "rush hours dominate traffic"
    assert traffic_peaks > 1.6 * mean(Family.TRAFFIC, range(10, 15)), "and beat the midday"
    medical = [per_hour[Family.MEDICAL][h] for h in range(24)]
    assert max(medical) < 3 * min(medical), "medical calls are steady through the day"
    assert mean(Family.FIRE_RESCUE, range(18, 22)) > 2 * mean(Family.FIRE_RESCUE, range(2, 6))
    assert sum(per_hour[Family.FLOOD].values()) == 0, "no flood calls on a dry day"
    shares = Counter(c.family for c in calls)
    expected = city_model().family_share
    for family in (Family.MEDICAL, Family.POLICE, Family.TRAFFIC):
        assert shares[family] / len(calls) == pytest.approx(expected[family], abs=0.04)


def test_calls_come_from_the_hotspots_inside_the_city(catalog: Catalog) -> None:
    calls = generate(catalog, "normal", 9, 200, DAY)
    area = service_area()
    assert all(area.contains(c.lat, c.lon) for c in calls)
    assert all(c.ward and c.address for c in calls)
    zones = Counter(c.zone for c in calls)
    # The dense old districts (1, 3, 5, 10) draw the most calls; highways the traffic.
    assert zones.most_common(1)[0][0] == "central"
    traffic = Counter(c.zone for c in calls if c.family is Family.TRAFFIC)
    assert traffic["highway"] / sum(traffic.values()) > 0.4
    # (A later caller may name another type of the family at the first call's place.)
    industrial = [c for c in calls if c.type_code == "FIRE.INDUSTRIAL" and not c.duplicate]
    assert industrial and all(c.zone == "industrial" for c in industrial)
    # Each call lies near its hotspot (within three of its radius).
    city = city_model()
    for c in calls:
        h = city.hotspot(c.hotspot)
        assert distance_m(c.point, Point(h.lat, h.lon)) <= 3 * h.radius_m + 300


def test_types_and_priorities_come_from_the_catalog(catalog: Catalog) -> None:
    calls = generate(catalog, "normal", 3, 200, DAY)
    escalated = 0
    for c in calls:
        kind = catalog.get(c.type_code)
        assert kind is not None
        assert kind.family is c.family
        if c.escalated:
            escalated += 1
            assert c.priority == Priority(kind.default_priority - 1)
        else:
            assert c.priority == kind.default_priority
    assert 0.01 < escalated / len(calls) < 0.08


def test_second_callers_are_marked_as_the_same_event(catalog: Catalog) -> None:
    calls = generate(catalog, "normal", 4, 200, DAY)
    firsts = {c.event_id: c for c in calls if not c.duplicate}
    duplicates = [c for c in calls if c.duplicate]
    assert 0.05 < len(duplicates) / len(calls) < 0.25
    for d in duplicates:
        first = firsts.get(d.event_id)
        assert first is not None, "a duplicate follows a first call of its event"
        assert 15 <= d.at_s - first.at_s <= 2 * 120 + 1
        assert distance_m(d.point, first.point) < 400
        assert catalog.get(d.type_code).family is first.family  # type: ignore[union-attr]
    assert len({c.event_id for c in calls}) == len(firsts)


def test_the_flood_surges_in_low_lying_wards(catalog: Catalog) -> None:
    calls = generate(catalog, "flood", 7, 30, 5 * 3600)
    first_hour = [c for c in calls if c.at_s < 3600]
    fifth_hour = [c for c in calls if c.at_s >= 4 * 3600]
    assert len(first_hour) > 200, "hundreds of calls in the storm's hour"
    assert len(first_hour) > 4 * len(fifth_hour)
    storm = [c for c in first_hour if c.family in (Family.FLOOD, Family.TRAFFIC)]
    assert len(storm) / len(first_hour) > 0.7
    lowlying = [c for c in storm if c.zone == "lowlying"]
    assert len(lowlying) / len(storm) > 0.7
    wards = Counter(c.ward for c in lowlying)
    assert {"Tân Hưng", "Chánh Hưng", "Thạnh Mỹ Tây", "Nhà Bè", "Hiệp Bình"} <= set(wards)


def test_the_mass_casualty_crash_is_staged(catalog: Catalog) -> None:
    calls = generate(catalog, "mass-casualty", 1, 20, 900)
    crash = [c for c in calls if c.type_code == "MEDICAL.MASS_CASUALTY"]
    first = [c for c in crash if not c.duplicate]
    assert len(first) == 1
    assert first[0].at_s == 120 and first[0].patients == 14
    assert first[0].hotspot == "xa-lo-ha-noi"
    assert len([c for c in crash if c.duplicate]) == 3
    assert all(c.event_id == first[0].event_id for c in crash)


def test_steady_keeps_the_start_mix_at_a_constant_rate(catalog: Catalog) -> None:
    gen = CallGenerator(
        seed=2, scenario=scenario("flood").as_steady(), catalog=catalog, calls_per_s=0.01
    )
    rates = [sum(gen.stream_rate(s, t) for s in gen.scenario.streams) for t in (0, 7200, 36000)]
    assert rates == pytest.approx([0.01, 0.01, 0.01])
    calls = gen.until(20_000)
    firsts = [c for c in calls if not c.duplicate]  # second callers come on top
    assert len(firsts) == pytest.approx(200, rel=0.2)
    storm = [c for c in calls if c.stream == "storm"]
    assert len(storm) / len(calls) > 0.8


def test_callers_are_not_shown_in_reprs(catalog: Catalog) -> None:
    call = generate(catalog, "normal", 1, 60, 3600)[0]
    assert call.caller.phone.startswith("0900")
    assert call.caller.name not in repr(call) and call.caller.phone not in repr(call)


def test_calls_come_in_on_lines_name_places_and_callers_call_back(catalog: Catalog) -> None:
    calls = generate(catalog, "normal", 3, 200, DAY)
    firsts = [c for c in calls if not c.duplicate]
    medical = Counter(c.line for c in firsts if c.family is Family.MEDICAL)
    assert medical.most_common(1)[0][0] is CallLine.MEDICAL_115
    assert medical[CallLine.EMERGENCY_112] > 0
    police = Counter(c.line for c in firsts if c.family is Family.POLICE)
    assert police.most_common(1)[0][0] is CallLine.POLICE_113
    named = [c for c in calls if c.place_named]
    assert 0.25 < len(named) / len(calls) < 0.45
    labels = {h.label for h in city_model().hotspots}
    assert any(c.place_named in labels for c in named)  # said with diacritics
    assert any(c.place_named not in labels for c in named)  # or without, or mistyped
    by_event = {c.event_id: c for c in firsts}
    repeats = [c for c in calls if c.duplicate]
    again = [c for c in repeats if c.caller.phone == by_event[c.event_id].caller.phone]
    assert 0.15 < len(again) / len(repeats) < 0.45
