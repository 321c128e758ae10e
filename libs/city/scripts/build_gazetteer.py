"""Builds `icc_city/data/gazetteer.json`, the places call-takers search, from:

- the `vietnam-provinces` package (a dev dependency): the names and codes of Ho Chi Minh
  City's 168 wards, communes and special zone since 1 July 2025;
- `libs/city/gazetteer/wards.json`: a hand-placed reference point for each of them, and
  the district it lay in before July 2025;
- `libs/city/gazetteer/places.json`: former districts, landmarks, markets, schools,
  stations, bridges and main streets;
- the resources service's reference data (hospitals and emergency stations), copied as
  data: the gazetteer never imports another service.

Run from the repository: `uv run python libs/city/scripts/build_gazetteer.py`
(`--check` fails when the committed file differs).
"""

import json
import sys
from pathlib import Path
from typing import Any

import vietnam_provinces
from vietnam_provinces import NESTED_DIVISIONS_JSON_PATH

from icc_city.area import service_area

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ROOT / "libs" / "city" / "gazetteer"
RESOURCES = ROOT / "services" / "resources" / "src" / "icc_resources" / "data"
OUT = ROOT / "libs" / "city" / "src" / "icc_city" / "data" / "gazetteer.json"
HCMC = 79
KIND_OF_DIVISION = {"phường": "ward", "xã": "commune", "đặc khu": "special_zone"}
PREFIXES = ("Phường ", "Xã ", "Đặc khu ")


def _clean(name: str) -> str:
    # The package writes a few names with two spaces ("Phường  Rạch Dừa").
    return " ".join(name.split())


def _bare(name: str) -> str:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _place(
    pid: str,
    kind: str,
    label: str,
    lat: float,
    lon: float,
    ward: str,
    aliases: list[str],
    wards: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": pid,
        "kind": kind,
        "label": label,
        "lat": round(lat, 5),
        "lon": round(lon, 5),
        "ward": ward,
        "aliases": [a for a in dict.fromkeys(aliases) if a and a != label],
        "wards": wards or [],
    }


def wards() -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, tuple[float, float]]]:
    """The wards, today's wards by former district, and each ward's point by full name."""
    divisions = json.loads(NESTED_DIVISIONS_JSON_PATH.read_text(encoding="utf-8"))
    city = next(p for p in divisions if p["code"] == HCMC)
    points = json.loads((SOURCES / "wards.json").read_text(encoding="utf-8"))["wards"]
    named = {_clean(w["name"]): w for w in city["wards"]}
    missing = sorted(set(named) - set(points))
    extra = sorted(set(points) - set(named))
    if missing or extra:
        raise SystemExit(f"wards.json and the package differ: missing {missing}, unknown {extra}")
    out: list[dict[str, Any]] = []
    by_district: dict[str, list[str]] = {}
    where: dict[str, tuple[float, float]] = {}
    for name, w in sorted(named.items(), key=lambda kv: kv[1]["code"]):
        lat, lon, was = points[name]
        bare = _bare(name)
        by_district.setdefault(was, []).append(bare)
        where[name] = (lat, lon)
        kind = KIND_OF_DIVISION[w["division_type"]]
        out.append(_place(f"ward-{w['code']}", kind, name, lat, lon, bare, [bare]))
    return out, by_district, where


def hand_placed(
    by_district: dict[str, list[str]], where: dict[str, tuple[float, float]]
) -> list[dict[str, Any]]:
    data = json.loads((SOURCES / "places.json").read_text(encoding="utf-8"))
    out: list[dict[str, Any]] = []
    for key, label, aliases, seat in data["former_districts"]:
        lat, lon = where[seat]
        covered = by_district[key]
        if key == "THUDUC":  # Thủ Đức city took in districts 2 and 9 in 2021
            covered = [*covered, *by_district["Q2"], *by_district["Q9"]]
        out.append(
            _place(
                f"district-{key.lower()}",
                "former_district",
                label,
                lat,
                lon,
                _bare(seat),
                aliases,
                covered,
            )
        )
    for pid, kind, label, lat, lon, ward, aliases in data["places"]:
        out.append(_place(pid, kind, label, lat, lon, ward, aliases))
    return out


def _short_station(name_vi: str) -> list[str]:
    """What people call a station: "PCCC Tân Định" for the fire team of the Tân Định area."""
    area = name_vi.rpartition("khu vực ")[2] if "khu vực " in name_vi else ""
    if name_vi.startswith("Đội Cảnh sát PCCC") and area:
        return [f"PCCC {area}", f"Đội chữa cháy {area}"]
    if name_vi.startswith("Trạm cấp cứu vệ tinh 115 "):
        return [f"Trạm 115 {name_vi.removeprefix('Trạm cấp cứu vệ tinh 115 ')}"]
    return []


def copied_from_resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    hospitals = json.loads((RESOURCES / "hospitals.json").read_text(encoding="utf-8"))
    for h in hospitals["hospitals"]:
        short = h["name_vi"].removeprefix("Bệnh viện ").removeprefix("Đa khoa ")
        out.append(
            _place(
                f"hospital-{h['id'].lower()}",
                "hospital",
                h["name_vi"],
                h["lat"],
                h["lon"],
                h["ward"],
                [h["name_en"], f"Bệnh viện {short}", short if len(short) > 6 else ""],
            )
        )
    stations = json.loads((RESOURCES / "stations.json").read_text(encoding="utf-8"))
    for s in stations["stations"]:
        out.append(
            _place(
                f"station-{s['id'].lower()}",
                "station",
                s["name_vi"],
                s["lat"],
                s["lon"],
                s["ward"],
                [s["name_en"], *_short_station(s["name_vi"])],
            )
        )
    return out


def build() -> dict[str, Any]:
    ward_places, by_district, where = wards()
    places = ward_places + hand_placed(by_district, where) + copied_from_resources()
    # What people call a copied place besides its names in the resources data.
    more = json.loads((SOURCES / "places.json").read_text(encoding="utf-8"))["more_aliases"]
    unknown = sorted(set(more) - {p["id"] for p in places})
    if unknown:
        raise SystemExit(f"more_aliases names no place: {unknown}")
    for p in places:
        p["aliases"] = list(dict.fromkeys([*p["aliases"], *more.get(p["id"], [])]))
    area = service_area()
    outside = [p["id"] for p in places if not area.contains(p["lat"], p["lon"])]
    if outside:
        raise SystemExit(f"places outside the service area: {outside}")
    ids = [p["id"] for p in places]
    if len(set(ids)) != len(ids):
        raise SystemExit("a place id is used twice")
    return {
        "version": 1,
        "sources": {
            "wards": f"vietnam-provinces {vietnam_provinces.__version__} "
            f"(data of {vietnam_provinces.__data_version__}): names and codes; "
            "reference points hand-placed (libs/city/gazetteer/wards.json)",
            "places": "libs/city/gazetteer/places.json, hand-placed from public knowledge",
            "hospitals_and_stations": "services/resources reference data (copied)",
        },
        "note": "Every coordinate is approximate: to within about a kilometre in the urban "
        "core for wards and former districts (their reference point, not a centroid), a few "
        "hundred metres for landmarks, markets, schools, bridges and stations, and the middle "
        "of the busiest stretch for a street. Not survey data.",
        "approximate": True,
        "places": places,
    }


def render() -> str:
    """The document with one place a line (reviewable diffs)."""
    document = build()
    places = document.pop("places")
    head = json.dumps(document, ensure_ascii=False, indent=2)[:-2]
    lines = ",\n".join("    " + json.dumps(p, ensure_ascii=False) for p in places)
    return f'{head},\n  "places": [\n{lines}\n  ]\n}}\n'


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        if OUT.read_text(encoding="utf-8") != text:
            raise SystemExit(f"{OUT} is stale: run libs/city/scripts/build_gazetteer.py")
        return
    OUT.write_text(text, encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(json.loads(text)['places'])} places")


if __name__ == "__main__":
    main()
