"""The simulator's model of the city's emergency demand, read from `data/city.json`:
the family mix by hour of day, the hotspots calls come from, and which types are
common. See the data file's note for how approximate it is."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from icc_kernel.vocabulary import CallLine
from icc_simulator.world.model import Family

HOURS = 24


@dataclass(frozen=True)
class Hotspot:
    id: str
    label: str
    ward: str
    # One of `central`, `industrial`, `highway`, `residential`, `lowlying`, `satellite`.
    zone: str
    lat: float
    lon: float
    radius_m: float
    weight: float


@dataclass(frozen=True)
class CityModel:
    family_share: Mapping[Family, float]
    rainy_flood_share: float
    # Relative volume by local hour, each normalised to a mean of 1.
    hourly: Mapping[Family, tuple[float, ...]]
    zone_weights: Mapping[str, Mapping[Family, float]]
    zone_of_type: Mapping[str, str]
    type_weights: Mapping[str, float]
    duplicate_chance: Mapping[Family, float]
    escalation_chance: float
    hotspots: tuple[Hotspot, ...]
    # Which line each family's callers dial, by share.
    lines: Mapping[Family, Mapping[CallLine, float]]
    # Callers naming a landmark rather than giving an address.
    named_place_share: float
    # Later callers about an event who are the first caller calling back.
    repeat_same_phone: float

    def hotspot(self, hotspot_id: str) -> Hotspot:
        for h in self.hotspots:
            if h.id == hotspot_id:
                return h
        raise KeyError(f"no hotspot {hotspot_id!r} in the city model")

    def shares_at(self, hour: int, *, rainy: bool) -> dict[Family, float]:
        """Calls per family at a local hour, relative to the day's mean total of 1 (or a
        little more when it rains: flood calls come on top of the usual)."""
        out: dict[Family, float] = {}
        for family in Family:
            share = self.family_share.get(family, 0.0)
            if family is Family.FLOOD and rainy:
                share = max(share, self.rainy_flood_share)
            out[family] = share * self.hourly[family][hour % HOURS]
        return out


def _normalised(values: Sequence[float]) -> tuple[float, ...]:
    if len(values) != HOURS:
        raise ValueError(f"an hourly profile needs {HOURS} values, got {len(values)}")
    mean = sum(values) / HOURS
    if mean <= 0:
        raise ValueError("an hourly profile must not be all zero")
    return tuple(float(v) / mean for v in values)


def families(raw: Mapping[str, Any]) -> dict[Family, Any]:
    """A mapping keyed by family names (`police`, `fire-rescue`, ...) keyed by Family."""
    return {Family(k): v for k, v in raw.items()}


def from_data(data: Mapping[str, Any]) -> CityModel:
    return CityModel(
        family_share={f: float(v) for f, v in families(data["family_share"]).items()},
        rainy_flood_share=float(data["rainy_flood_share"]),
        hourly={f: _normalised(v) for f, v in families(data["hourly"]).items()},
        zone_weights={
            zone: {f: float(w) for f, w in families(weights).items()}
            for zone, weights in data["zone_weights"].items()
        },
        zone_of_type=dict(data["zone_of_type"]),
        type_weights={k: float(v) for k, v in data["type_weights"].items()},
        duplicate_chance={f: float(v) for f, v in families(data["duplicate_chance"]).items()},
        escalation_chance=float(data["escalation_chance"]),
        lines={
            f: {CallLine[line]: float(share) for line, share in shares.items()}
            for f, shares in families(data["lines"]).items()
        },
        named_place_share=float(data["named_place_share"]),
        repeat_same_phone=float(data["repeat_same_phone"]),
        hotspots=tuple(
            Hotspot(
                id=h["id"],
                label=h["label"],
                ward=h["ward"],
                zone=h["zone"],
                lat=float(h["lat"]),
                lon=float(h["lon"]),
                radius_m=float(h["radius_m"]),
                weight=float(h["weight"]),
            )
            for h in data["hotspots"]
        ),
    )


def read_data(name: str) -> Any:
    return json.loads((resources.files("icc_simulator.world") / "data" / name).read_text("utf-8"))


@cache
def city_model() -> CityModel:
    return from_data(read_data("city.json"))
