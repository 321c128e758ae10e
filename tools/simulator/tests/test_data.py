"""The simulator's data agrees with the services' (codes, places in the city), and its trips."""

from icc_city.area import service_area
from icc_city.geo import Point, distance_m
from icc_kernel.vocabulary import UnitKind
from icc_simulator.world.behaviour import Bed, HospitalView, choose_hospital, destination, drive
from icc_simulator.world.city import city_model
from icc_simulator.world.model import Catalog
from icc_simulator.world.scenarios import scenarios


def test_every_code_named_in_the_data_is_in_the_catalog(catalog: Catalog) -> None:
    city = city_model()
    named = set(city.type_weights) | set(city.zone_of_type)
    for s in scenarios().values():
        for stream in s.streams:
            named |= set(stream.type_weights)
        named |= {e.type_code for e in s.events}
    assert named - {k.code for k in catalog.kinds} == set()


def test_every_hotspot_is_inside_the_city_and_scenario_places_exist() -> None:
    city = city_model()
    area = service_area()
    outside = [h.id for h in city.hotspots if not area.contains(h.lat, h.lon)]
    assert outside == []
    zones = {h.zone for h in city.hotspots}
    assert zones == set(city.zone_weights)
    for s in scenarios().values():
        for e in s.events:
            city.hotspot(e.hotspot)
        for stream in s.streams:
            for weights in stream.zones.values():
                assert set(weights) <= zones


def test_a_drive_moves_along_its_path_and_arrives() -> None:
    import random

    start, end = Point(10.7725, 106.6980), Point(10.7900, 106.7430)
    trip = drive(start, end, UnitKind.AMBULANCE_ALS, 8, 100.0, random.Random(1))
    assert trip.via is not None
    assert trip.fix_at(0.0).point == start
    assert trip.fix_at(trip.end_s + 5).point == end
    middle = trip.fix_at((trip.start_s + trip.end_s) / 2)
    assert middle.speed_ms > 0
    assert 0 < distance_m(start, middle.point) < trip.straight_m
    # Rush hour in a car: well under 20 km/h on the road.
    assert trip.road_m / trip.duration_s * 3.6 < 20


def test_hospital_choice_spreads_a_mass_casualty() -> None:
    def hospital(name: str, lat: float, trauma: int) -> HospitalView:
        return HospitalView(
            name,
            name,
            Point(lat, 106.70),
            frozenset({"TRAUMA_CENTER"}),
            {Bed.EMERGENCY.value: 10, Bed.TRAUMA.value: trauma},
        )

    near, far = hospital("near", 10.78, 5), hospital("far", 10.80, 5)
    at = Point(10.779, 106.70)
    assert choose_hospital(at, "MEDICAL.MASS_CASUALTY", [near, far]) == near
    assert choose_hospital(at, "MEDICAL.MASS_CASUALTY", [near, far], {"near": 3}) == far
    full = HospitalView("full", "full", at, frozenset(), {Bed.EMERGENCY.value: 0})
    assert choose_hospital(at, "MEDICAL.SICK_PERSON", [full]) is None


def test_partial_diversion_turns_away_a_specialty_patient_only() -> None:
    at = Point(10.779, 106.70)
    beds = {Bed.EMERGENCY.value: 10, Bed.TRAUMA.value: 5}
    near = HospitalView(
        "near",
        "near",
        Point(10.78, 106.70),
        frozenset({"TRAUMA_CENTER"}),
        beds,
        diverting_specialty=True,
    )
    far = HospitalView("far", "far", Point(10.80, 106.70), frozenset({"TRAUMA_CENTER"}), beds)
    assert choose_hospital(at, "MEDICAL.TRAUMA", [near, far]) == far
    assert choose_hospital(at, "MEDICAL.SICK_PERSON", [near, far]) == near


def test_an_ambulance_goes_where_dispatch_sent_it() -> None:
    at = Point(10.779, 106.70)
    beds = {Bed.EMERGENCY.value: 10}
    near = HospitalView("hospitals/near", "near", Point(10.78, 106.70), frozenset(), beds)
    far = HospitalView("hospitals/far", "far", Point(10.80, 106.70), frozenset(), beds)
    # Dispatch heard of a diversion the player did not: its destination wins.
    assert destination("hospitals/far", at, "MEDICAL.SICK_PERSON", [near, far]) == far
    # None recorded, or one the player does not know: its own choice.
    assert destination("", at, "MEDICAL.SICK_PERSON", [near, far]) == near
    assert destination("hospitals/gone", at, "MEDICAL.SICK_PERSON", [near, far]) == near
