"""Units, stations, hospitals and positions."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import ClassVar

from icc_kernel.names import Named
from icc_kernel.vocabulary import Agency, Diversion, StationKind, UnitKind, UnitStatus


@dataclass(frozen=True)
class AgencyInfo:
    agency: Agency
    name_vi: str
    name_en: str
    emergency_number: str


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    report_time: datetime
    heading: float = 0.0
    speed: float = 0.0
    accuracy: float = 0.0


@dataclass(frozen=True)
class Unit(Named):
    COLLECTION: ClassVar[str] = "units"

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
class Hospital(Named):
    COLLECTION: ClassVar[str] = "hospitals"

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


@dataclass(frozen=True)
class UnitFilter:
    """Which units a listing holds (every condition given must hold)."""

    agency: Agency | None = None
    statuses: tuple[UnitStatus, ...] = ()
    kinds: tuple[UnitKind, ...] = ()
    home_station: str | None = None


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
