"""Generate the synthetic fleet (fleet.json) from stations.json.

Deterministic, standard library only: the same stations.json always gives the same
fleet.json. Re-run after editing stations.json:

    python services/resources/scripts/gen_fleet.py

The fleet is synthetic: plausible unit counts per station kind, not the agencies'
real inventory.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "icc_resources" / "data"
STATIONS = DATA / "stations.json"
FLEET = DATA / "fleet.json"

# Centre used to tell inner-city EMS stations from outer ones (Bến Thành market area).
CITY_CENTRE = (10.7725, 106.6980)
INNER_RADIUS_KM = 12.0

# Fire stations that also get an aerial ladder: dense, high-rise areas.
LADDER_STATIONS = {
    "PCCC-CAUONGLANH",
    "PCCC-TANDINH",
    "PCCC-KHANHHOI",
    "PCCC-CHOLON",
    "PCCC-TANTHUAN",
    "PCCC-DIENHONG",
    "PCCC-BINHTHANH",
    "PCCC-PHUNHUAN",
    "PCCC-TANBINH",
    "PCCC-GOVAP",
    "PCCC-BINHTAN",
    "PCCC-ANKHANH",
    "PCCC-THUDUC",
    "PCCC-THUDAUMOT",
    "PCCC-DIAN",
    "PCCC-VUNGTAU",
    "PCCC-BARIA",
}
# Fire stations with a hazmat unit: industrial zones and the petrochemical/port belt.
HAZMAT_STATIONS = {"PCCC-BENCAT", "PCCC-PHUMY", "PCCC-HIEPPHUOC"}
# Fire stations whose rescue unit also carries water-rescue kit (river, canal, sea).
WATER_RESCUE_STATIONS = {
    "PCCC-KHANHHOI",
    "PCCC-ANKHANH",
    "PCCC-CATLAI",
    "PCCC-BINHTHANH",
    "PCCC-NHABE",
    "PCCC-BINHKHANH",
    "PCCC-CANGIO",
    "PCCC-THUDAUMOT",
    "PCCC-VUNGTAU",
    "PCCC-LONGDIEN",
    "PCCC-XUYENMOC",
    "PCCC-CONDAO",
}

# Unit kind -> (call-sign letter, crew, base capabilities)
KINDS: dict[str, tuple[str, int, list[str]]] = {
    "ENGINE": ("E", 6, ["WATER_PUMP", "BREATHING_APPARATUS"]),
    "LADDER": ("L", 4, ["AERIAL_LADDER_32M", "BREATHING_APPARATUS"]),
    "RESCUE": ("R", 5, ["EXTRICATION", "BREATHING_APPARATUS"]),
    "WATER_TENDER": ("W", 3, ["WATER_PUMP"]),
    "HAZMAT": ("H", 5, ["HAZMAT_DECON", "BREATHING_APPARATUS"]),
    "AMBULANCE_ALS": ("A", 3, ["ALS", "BLS", "DEFIBRILLATOR"]),
    "AMBULANCE_BLS": ("B", 2, ["BLS", "DEFIBRILLATOR"]),
    "MOTORBIKE_RESPONDER": ("M", 1, ["BLS", "DEFIBRILLATOR"]),
    "PATROL_CAR": ("P", 3, ["TRAFFIC_CONTROL"]),
    "POLICE_MOTORBIKE": ("M", 2, []),
    "TRAFFIC_MOTORBIKE": ("T", 2, ["TRAFFIC_CONTROL"]),
}

RULES = {
    "FIRE_STATION": {
        "ENGINE": 2,
        "RESCUE": 1,
        "WATER_TENDER": 1,
        "LADDER": "1 at stations listed in ladder_stations",
        "HAZMAT": "1 at stations listed in hazmat_stations",
        "water_rescue": "RESCUE unit gets WATER_RESCUE at stations in water_rescue_stations",
    },
    "EMS_CENTER": {"AMBULANCE_ALS": 6, "AMBULANCE_BLS": 4, "MOTORBIKE_RESPONDER": 4},
    "EMS_STATION": {
        "inner": {"AMBULANCE_ALS": 1, "AMBULANCE_BLS": 1, "MOTORBIKE_RESPONDER": 2},
        "outer": {"AMBULANCE_ALS": 2, "AMBULANCE_BLS": 1, "MOTORBIKE_RESPONDER": 1},
        "inner_centre_lat_lon": list(CITY_CENTRE),
        "inner_radius_km": INNER_RADIUS_KM,
        "note": "inner = congested core: fewer ambulances, more motorbike responders",
    },
    "POLICE_STATION": {"PATROL_CAR": 1, "POLICE_MOTORBIKE": 2},
    "POLICE_TRAFFIC": {"PATROL_CAR": 1, "TRAFFIC_MOTORBIKE": 3},
    "POLICE_RAPID": {
        "PATROL_CAR": 2,
        "POLICE_MOTORBIKE": 4,
        "note": "rapid-response units also carry ARMED_RESPONSE",
    },
    "ladder_stations": sorted(LADDER_STATIONS),
    "hazmat_stations": sorted(HAZMAT_STATIONS),
    "water_rescue_stations": sorted(WATER_RESCUE_STATIONS),
    "crew": {kind: spec[1] for kind, spec in KINDS.items()},
    "call_sign": "FIRE <slug>-<L><n>; MEDICAL 115-<slug>-<L><n>; ward police CA-<slug>-<L><n>; "
    "traffic CSGT-<slug>-<L><n>; rapid 113-<slug>-<L><n> (slug = station id without agency prefix)",
}


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1 = map(math.radians, a)
    lat2, lon2 = map(math.radians, b)
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def call_sign_prefix(station: dict) -> str:
    sid, kind = station["id"], station["kind"]
    if sid.startswith("PCCC-"):
        return sid[len("PCCC-") :]
    if sid.startswith("CC115-"):
        return "115-" + sid[len("CC115-") :]
    if sid.startswith("POL-"):
        rest = sid[len("POL-") :]
        return ("CA-" + rest) if kind == "POLICE_STATION" else rest
    raise ValueError(f"unexpected station id {sid}")


def plan(station: dict) -> list[tuple[str, int]]:
    sid, kind = station["id"], station["kind"]
    if kind == "FIRE_STATION":
        p = [("ENGINE", 2)]
        if sid in LADDER_STATIONS:
            p.append(("LADDER", 1))
        p += [("RESCUE", 1), ("WATER_TENDER", 1)]
        if sid in HAZMAT_STATIONS:
            p.append(("HAZMAT", 1))
        return p
    if kind == "EMS_STATION":
        inner = km((station["lat"], station["lon"]), CITY_CENTRE) <= INNER_RADIUS_KM
        counts = RULES["EMS_STATION"]["inner" if inner else "outer"]
    elif kind in ("EMS_CENTER", "POLICE_STATION", "POLICE_TRAFFIC", "POLICE_RAPID"):
        counts = RULES[kind]
    else:
        raise ValueError(f"unknown station kind {kind} for {sid}")
    return [(k, n) for k, n in counts.items() if k in KINDS]


def units_for(station: dict) -> list[dict]:
    sid = station["id"]
    prefix = call_sign_prefix(station)
    units = []
    for kind, count in plan(station):
        letter, crew, caps = KINDS[kind]
        caps = list(caps)
        if kind == "RESCUE" and sid in WATER_RESCUE_STATIONS:
            caps.append("WATER_RESCUE")
        if station["kind"] == "POLICE_RAPID" and kind in ("PATROL_CAR", "POLICE_MOTORBIKE"):
            caps.append("ARMED_RESPONSE")
        for n in range(1, count + 1):
            units.append(
                {
                    "id": f"U-{sid}-{letter}{n}",
                    "call_sign": f"{prefix}-{letter}{n}",
                    "agency": station["agency"],
                    "kind": kind,
                    "home_station": sid,
                    "capabilities": caps,
                    "crew": crew,
                }
            )
    return units


def render(rules: dict, units: list[dict]) -> str:
    note = (
        "Fleet composition is synthetic: plausible counts per station kind, "
        "not the agencies' real inventory. Generated by services/resources/scripts/"
        "gen_fleet.py from stations.json; do not edit by hand."
    )
    lines = ["{", '  "version": 1,', f'  "source_note": {json.dumps(note)},']
    lines.append('  "rules": {')
    items = list(rules.items())
    for i, (k, v) in enumerate(items):
        sep = "," if i < len(items) - 1 else ""
        lines.append(f"    {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}{sep}")
    lines.append("  },")
    lines.append('  "units": [')
    for i, u in enumerate(units):
        sep = "," if i < len(units) - 1 else ""
        lines.append("    " + json.dumps(u, ensure_ascii=False) + sep)
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> None:
    stations = json.loads(STATIONS.read_text(encoding="utf-8"))["stations"]
    units = [u for s in stations for u in units_for(s)]
    FLEET.write_text(render(RULES, units), encoding="utf-8")
    print(f"wrote {len(units)} units for {len(stations)} stations to {FLEET}")


if __name__ == "__main__":
    main()
