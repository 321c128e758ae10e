"""The travel model: periods of the day, speeds by vehicle class, the estimate of a trip."""

from dataclasses import dataclass

from icc_city.geo import Point, distance_m
from icc_city.river import route
from icc_city.travel import (
    CIRCUITY,
    SPEED_KMH,
    Period,
    estimate,
    period_of,
    speed_ms,
    vehicle_class,
)

# Central Saigon (District 1, west bank) and Thủ Thiêm (east bank).
SAIGON = Point(10.7769, 106.7009)
SAIGON_NEAR = Point(10.7800, 106.6950)
THU_THIEM = Point(10.7800, 106.7300)


@dataclass(frozen=True)
class Kind:
    two_wheeled: bool = False
    heavy: bool = False


BIKE, CAR, TRUCK = Kind(two_wheeled=True), Kind(), Kind(heavy=True)


def test_period_boundaries() -> None:
    assert [period_of(h) for h in (5, 6, 8, 9, 15, 16, 18, 19, 21, 22)] == [
        Period.NIGHT,
        Period.RUSH,
        Period.RUSH,
        Period.DAY,
        Period.DAY,
        Period.RUSH,
        Period.RUSH,
        Period.DAY,
        Period.DAY,
        Period.NIGHT,
    ]


def test_vehicle_classes_and_speeds() -> None:
    assert [vehicle_class(k) for k in (BIKE, CAR, TRUCK)] == ["motorbike", "car", "heavy"]
    assert speed_ms(CAR, 12) == SPEED_KMH["car"][Period.DAY] / 3.6
    # Motorbikes weave through rush hour; heavy trucks are the slowest then.
    assert speed_ms(BIKE, 17) > speed_ms(CAR, 17) > speed_ms(TRUCK, 17)
    assert all(speed_ms(k, 2) > speed_ms(k, 17) for k in (BIKE, CAR, TRUCK))


def test_estimate_follows_the_route_over_the_river() -> None:
    eta = estimate(SAIGON, THU_THIEM, CAR, 12)
    routed = route(SAIGON, THU_THIEM)
    assert routed.via is not None and eta.via == routed.via.name
    assert eta.meters == round(routed.length_m * CIRCUITY)
    assert eta.seconds == round(routed.length_m * CIRCUITY / speed_ms(CAR, 12))
    same_bank = estimate(SAIGON, SAIGON_NEAR, BIKE, 2, circuity=1.0)
    assert same_bank.via is None
    assert same_bank.meters == round(distance_m(SAIGON, SAIGON_NEAR))
