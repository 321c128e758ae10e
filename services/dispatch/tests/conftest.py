"""What the dispatch domain's tests share: instants and places in the city, the shipped
response plans, and builders of units and assignments."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from icc_dispatch.domain.model import (
    SYSTEM,
    Agency,
    Assignment,
    AssignmentState,
    FleetUnit,
    Point,
    UnitKind,
    UnitStatus,
)
from icc_dispatch.domain.plans import PlanBook
from icc_kernel.reasons import Reason

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


def item_data(role: str, count: int = 1, kinds: tuple[str, ...] = ("ENGINE",)) -> dict[str, Any]:
    """One role of a response plan, as the plans' JSON has it."""
    return {"role": role, "agency": "FIRE", "kinds": list(kinds), "count": count}


@pytest.fixture(scope="module")
def book() -> PlanBook:
    return PlanBook.from_data(load_json(PLANS_JSON))


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


def assignment(
    role: str,
    state: AssignmentState = AssignmentState.ASSIGNED,
    *,
    id: str = "a1",
    vacated: bool = False,
    release: Reason | None = None,
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
        release=release,
    )
