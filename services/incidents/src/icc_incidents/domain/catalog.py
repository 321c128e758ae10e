"""The incident type catalog: codes, labels in Vietnamese and English, defaults."""

import json
from dataclasses import dataclass

from icc_city.text import fold_vietnamese
from icc_kernel.vocabulary import Agency, Priority

# The families incident types are grouped in for duplicates, history and key
# questions: fire, rescue and hazardous materials are one (a call about smoke and one
# about a gas leak at the same place are one event as often as not).
FAMILY_OF_CATEGORY = {
    "POLICE": "POLICE",
    "FIRE": "FIRE_RESCUE",
    "RESCUE": "FIRE_RESCUE",
    "HAZMAT": "FIRE_RESCUE",
    "MEDICAL": "MEDICAL",
    "TRAFFIC": "TRAFFIC",
    "FLOOD": "FLOOD",
}
FAMILIES = tuple(dict.fromkeys(FAMILY_OF_CATEGORY.values()))


@dataclass(frozen=True)
class IncidentType:
    code: str
    label_vi: str
    label_en: str
    agencies: tuple[Agency, ...]
    default_priority: Priority
    category: str
    keywords_vi: tuple[str, ...] = ()

    @property
    def family(self) -> str:
        return FAMILY_OF_CATEGORY[self.category]


class Catalog:
    def __init__(self, types: list[IncidentType]) -> None:
        self._by_code = {t.code: t for t in types}
        if len(self._by_code) != len(types):
            raise ValueError("duplicate incident type codes in the catalog")
        unknown = {t.category for t in types} - FAMILY_OF_CATEGORY.keys()
        if unknown:
            raise ValueError(f"categories of no family in the catalog: {sorted(unknown)}")
        self._by_family: dict[str, tuple[str, ...]] = {}
        for t in sorted(types, key=lambda t: t.code):
            self._by_family[t.family] = (*self._by_family.get(t.family, ()), t.code)

    @classmethod
    def from_json(cls, text: str) -> "Catalog":
        data = json.loads(text)
        return cls(
            [
                IncidentType(
                    code=t["code"],
                    label_vi=t["label_vi"],
                    label_en=t["label_en"],
                    agencies=tuple(Agency[a] for a in t["agencies"]),
                    default_priority=Priority(t["default_priority"]),
                    category=t["category"],
                    keywords_vi=tuple(t.get("keywords_vi", ())),
                )
                for t in data["types"]
            ]
        )

    def get(self, code: str) -> IncidentType | None:
        return self._by_code.get(code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def family_of(self, code: str) -> str:
        """The family of a known code (`FIRE.STRUCTURE` -> `FIRE_RESCUE`)."""
        return self._by_code[code].family

    def codes_of_family(self, family: str) -> tuple[str, ...]:
        return self._by_family.get(family, ())

    def __len__(self) -> int:
        return len(self._by_code)

    def all(self, agency: Agency | None = None) -> list[IncidentType]:
        types = sorted(self._by_code.values(), key=lambda t: t.code)
        return [t for t in types if agency is None or agency in t.agencies]

    def search(self, query: str) -> list[IncidentType]:
        """Types whose code, labels or keywords contain the query, diacritics optional."""
        q = fold_vietnamese(query.strip())
        # Each field on its own: joined text would match across two keywords.
        return [
            t
            for t in self.all()
            if any(
                q in fold_vietnamese(f) for f in (t.code, t.label_vi, t.label_en, *t.keywords_vi)
            )
        ]
