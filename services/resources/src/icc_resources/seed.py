"""The city's reference data (stations, hospitals, fleet), read from the package's
`data/` files; the store adds what is missing at every start (`store.add_missing`)."""

import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from icc_kernel.vocabulary import Agency, Diversion, StationKind, UnitKind, UnitStatus
from icc_resources.domain.model import Capacity, Hospital, Station, Unit


@dataclass(frozen=True)
class ReferenceData:
    stations: list[Station]
    hospitals: list[Hospital]
    units: list[Unit]


def _read(name: str) -> Any:
    return json.loads((resources.files("icc_resources") / "data" / name).read_text("utf-8"))


def load_reference_data(now: datetime) -> ReferenceData:
    stations = [
        Station(
            s["id"],
            Agency[s["agency"]],
            StationKind[s["kind"]],
            s["name_vi"],
            s["name_en"],
            float(s["lat"]),
            float(s["lon"]),
            s.get("ward", ""),
            bool(s.get("approximate", True)),
        )
        for s in _read("stations.json")["stations"]
    ]
    hospitals = [
        Hospital(
            id=h["id"],
            name_vi=h["name_vi"],
            name_en=h["name_en"],
            lat=float(h["lat"]),
            lon=float(h["lon"]),
            ward=h.get("ward", ""),
            capabilities=tuple(h.get("capabilities", ())),
            total=Capacity(**h["capacity"]),
            available=Capacity(**h["capacity"]),
            diversion=Diversion.OPEN,
            update_time=now,
            approximate=bool(h.get("approximate", True)),
        )
        for h in _read("hospitals.json")["hospitals"]
    ]
    units = [
        Unit(
            id=u["id"],
            call_sign=u["call_sign"],
            agency=Agency[u["agency"]],
            kind=UnitKind[u["kind"]],
            status=UnitStatus.AVAILABLE,
            home_station=u["home_station"],
            capabilities=tuple(u.get("capabilities", ())),
            crew=int(u.get("crew", 2)),
            status_time=now,
        )
        for u in _read("fleet.json")["units"]
    ]
    return ReferenceData(stations, hospitals, units)
