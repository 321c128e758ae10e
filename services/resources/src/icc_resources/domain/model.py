"""Units, stations, hospitals and positions."""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum


class Agency(IntEnum):
    # Values match icc.common.v1.Agency.
    POLICE = 1
    FIRE = 2
    MEDICAL = 3
    COMMAND_CENTER = 4
    UTILITY = 5


@dataclass(frozen=True)
class AgencyInfo:
    agency: "Agency"
    name_vi: str
    name_en: str
    emergency_number: str


class UnitKind(IntEnum):
    # Values match icc.resource.v1.UnitKind.
    ENGINE = 1
    LADDER = 2
    RESCUE = 3
    WATER_TENDER = 4
    HAZMAT = 5
    AMBULANCE_ALS = 6
    AMBULANCE_BLS = 7
    MOTORBIKE_RESPONDER = 8
    PATROL_CAR = 9
    POLICE_MOTORBIKE = 10
    TRAFFIC_MOTORBIKE = 11


class UnitStatus(IntEnum):
    AVAILABLE = 1
    DISPATCHED = 2
    EN_ROUTE = 3
    ON_SCENE = 4
    TRANSPORTING = 5
    AT_HOSPITAL = 6
    OUT_OF_SERVICE = 7


class StationKind(IntEnum):
    POLICE_STATION = 1
    POLICE_TRAFFIC = 2
    POLICE_RAPID = 3
    FIRE_STATION = 4
    EMS_CENTER = 5
    EMS_STATION = 6


class Diversion(IntEnum):
    OPEN = 1
    PARTIAL = 2
    FULL = 3


@dataclass(frozen=True)
class Actor:
    user: str
    agency: Agency
    role: str = ""


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    report_time: datetime
    heading: float = 0.0
    speed: float = 0.0
    accuracy: float = 0.0


@dataclass(frozen=True)
class Unit:
    id: str
    call_sign: str
    agency: Agency
    kind: UnitKind
    status: UnitStatus
    home_station: str
    capabilities: tuple[str, ...]
    crew: int
    status_time: datetime
    incident_id: str | None = None
    version: int = 1

    @property
    def name(self) -> str:
        return f"units/{self.id}"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    def changed(self, now: datetime, **changes: object) -> "Unit":
        return replace(self, version=self.version + 1, status_time=now, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Station:
    id: str
    agency: Agency
    kind: StationKind
    name_vi: str
    name_en: str
    lat: float
    lon: float
    ward: str
    approximate: bool


@dataclass(frozen=True)
class Capacity:
    emergency_beds: int = 0
    icu: int = 0
    burn: int = 0
    trauma: int = 0
    pediatric: int = 0

    def fields(self) -> dict[str, int]:
        return {
            "emergency_beds": self.emergency_beds,
            "icu": self.icu,
            "burn": self.burn,
            "trauma": self.trauma,
            "pediatric": self.pediatric,
        }


@dataclass(frozen=True)
class Hospital:
    id: str
    name_vi: str
    name_en: str
    lat: float
    lon: float
    ward: str
    capabilities: tuple[str, ...]
    total: Capacity
    available: Capacity
    diversion: Diversion
    update_time: datetime
    approximate: bool
    version: int = 1

    @property
    def name(self) -> str:
        return f"hospitals/{self.id}"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'


# The agencies that answer the city's emergency numbers.
AGENCIES = (
    AgencyInfo(Agency.POLICE, "Công an Thành phố Hồ Chí Minh", "Ho Chi Minh City Police", "113"),
    AgencyInfo(
        Agency.FIRE,
        "Cảnh sát Phòng cháy, chữa cháy và cứu nạn, cứu hộ",
        "Fire Prevention, Firefighting and Rescue Police",
        "114",
    ),
    AgencyInfo(Agency.MEDICAL, "Trung tâm Cấp cứu 115", "115 Emergency Medical Center", "115"),
)
