"""The incident type catalog: codes, labels in Vietnamese and English, defaults."""

import json
import unicodedata
from dataclasses import dataclass

from icc_kernel.vocabulary import Agency, Priority


@dataclass(frozen=True)
class IncidentType:
    code: str
    label_vi: str
    label_en: str
    agencies: tuple[Agency, ...]
    default_priority: Priority
    category: str
    keywords_vi: tuple[str, ...] = ()


def fold_vietnamese(text: str) -> str:
    """Lower case without diacritics, so "chay nha" matches "Cháy nhà"."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


class Catalog:
    def __init__(self, types: list[IncidentType]) -> None:
        self._by_code = {t.code: t for t in types}
        if len(self._by_code) != len(types):
            raise ValueError("duplicate incident type codes in the catalog")

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
