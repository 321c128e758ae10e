"""The city's gazetteer: the places call-takers search (`data/gazetteer.json`, built by
`libs/city/scripts/build_gazetteer.py`), and the search over them.

The search forgives what people do on a call: no diacritics ("cho ben thanh"),
abbreviations ("Q1", "P. Bến Thành", "BV Chợ Rẫy"), the names of districts that no
longer exist ("Quận 1", "Bình Thạnh") and small typos ("Chợ Bến Thnah"). Each place's
names are folded once; a query is folded the same way and scored against every name
with rapidfuzz's weighted ratio (whole names, parts of names and reordered words). The
best name of a place is its score; among places scoring alike the nearer to the map's
centre come first (a little under a point per kilometre, never enough to put a poorer
match above an exact one).
"""

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rapidfuzz import fuzz, process, utils

from icc_city.geo import Point, distance_m
from icc_city.text import fold_vietnamese

# Below this a name is not offered (0-100, rapidfuzz's scale).
MIN_SCORE = 60.0
# Ranking: points taken off per kilometre from the map's centre, and at most.
PENALTY_PER_KM = 0.15
MOST_PENALTY = 4.0
# Candidates looked at before ranking by distance.
CANDIDATES = 80

# Abbreviations and words people type for a place's kind, on folded text.
_SPELLED_OUT = [
    (re.compile(r"\bq ?(\d{1,2})\b"), r"quan \1"),
    (re.compile(r"\bp ?(\d{1,2})\b"), r"phuong \1"),
    (re.compile(r"^p (?=[a-z])"), "phuong "),
    (re.compile(r"\bbv\b"), "benh vien"),
    (re.compile(r"\btp\b"), "thanh pho"),
    (re.compile(r"\bdh\b"), "dai hoc"),
    (re.compile(r"\bthpt\b"), "truong thpt"),
    (re.compile(r"\bhcm\b"), "ho chi minh"),
    (re.compile(r"\bsg\b"), "sai gon"),
]
# A street is also known without its "Đường", a park without its "Công viên".
_GENERIC = ("duong ", "dai lo ", "pho ", "cong vien ", "khu du lich ")


def normalize(text: str) -> str:
    """Folded, punctuation as spaces, abbreviations spelled out."""
    folded = " ".join(utils.default_process(fold_vietnamese(text)).split())
    for pattern, spelled in _SPELLED_OUT:
        folded = pattern.sub(spelled, folded)
    return " ".join(folded.split())


@dataclass(frozen=True)
class Place:
    id: str
    # ward, commune, special_zone, former_district, landmark, market, school, hospital,
    # station, bridge, street
    kind: str
    label: str
    point: Point
    # Today's ward.
    ward: str
    aliases: tuple[str, ...] = ()
    # A former district: today's wards and communes it became.
    wards: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    place: Place
    # 0 to 1.
    score: float
    # The name that matched.
    matched: str
    # From the centre given, when one was.
    distance_m: float | None


class Gazetteer:
    def __init__(self, places: list[Place]) -> None:
        self.places = tuple(places)
        names: list[str] = []
        self._owner: list[tuple[int, str]] = []
        for n, place in enumerate(self.places):
            for name in dict.fromkeys((place.label, *place.aliases)):
                for form in dict.fromkeys(_forms(name)):
                    names.append(form)
                    self._owner.append((n, name))
        self._names = names

    @classmethod
    def from_json(cls, text: str) -> "Gazetteer":
        data = json.loads(text)
        return cls(
            [
                Place(
                    id=p["id"],
                    kind=p["kind"],
                    label=p["label"],
                    point=Point(p["lat"], p["lon"]),
                    ward=p["ward"],
                    aliases=tuple(p["aliases"]),
                    wards=tuple(p["wards"]),
                )
                for p in data["places"]
            ]
        )

    def __len__(self) -> int:
        return len(self.places)

    def search(self, query: str, near: Point | None = None, limit: int = 10) -> list[Match]:
        """The places whose names match `query` best, best first (nearer `near` first
        among matches alike)."""
        wanted = normalize(query)
        if not wanted:
            return []
        found = process.extract(
            wanted,
            self._names,
            scorer=fuzz.WRatio,
            processor=None,
            limit=CANDIDATES,
            score_cutoff=MIN_SCORE,
        )
        best: dict[int, tuple[float, str]] = {}
        for _, score, index in found:
            owner, name = self._owner[index]
            if owner not in best or score > best[owner][0]:
                best[owner] = (score, name)
        ranked: list[tuple[float, Match]] = []
        for owner, (score, name) in best.items():
            place = self.places[owner]
            metres = distance_m(near, place.point) if near is not None else None
            penalty = min(MOST_PENALTY, PENALTY_PER_KM * metres / 1000) if metres else 0.0
            match = Match(place, round(score / 100, 4), name, metres)
            ranked.append((score - penalty, match))
        ranked.sort(key=lambda pair: (-pair[0], pair[1].place.id))
        return [match for _, match in ranked[:limit]]


def _forms(name: str) -> list[str]:
    """A name as searched: normalized, and without a generic word in front."""
    form = normalize(name)
    out = [form]
    for generic in _GENERIC:
        if form.startswith(generic) and len(form) > len(generic) + 3:
            out.append(form[len(generic) :])
    return out


@cache
def gazetteer() -> Gazetteer:
    """The city's gazetteer, read once."""
    text = (resources.files("icc_city") / "data" / "gazetteer.json").read_text("utf-8")
    return Gazetteer.from_json(text)
