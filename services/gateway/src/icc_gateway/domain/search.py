"""Finding incidents, open and ended, by what a dispatcher remembers of one: its id (or
its first characters), its place (address, ward), its type (code or label in either
language) or a unit sent to it (call sign). Words are folded as people type them: no
diacritics, any case; every word must be found. Pure: the route pages through the
incidents service and asks `matches` of each."""

from collections.abc import Mapping
from dataclasses import dataclass

from icc_city.text import fold_vietnamese
from icc_gateway.domain.model import Incident


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Query":
        return cls(tuple(fold_vietnamese(text).split()))

    @property
    def empty(self) -> bool:
        return not self.words

    def matches(self, incident: Incident, type_labels: Mapping[str, str]) -> bool:
        """Whether every word is in the incident's id, place, type or units.
        `type_labels`: each type code's labels, folded (`labels_of`)."""
        if not self.words:
            return True
        text = " ".join(
            (
                incident.id,
                incident.address,
                incident.ward,
                incident.type_code,
                *(a.call_sign for a in incident.assignments),
            )
        )
        hay = f"{fold_vietnamese(text)} {type_labels.get(incident.type_code, '')}"
        return all(word in hay for word in self.words)


def labels_of(types: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """Each type code's Vietnamese and English labels, folded, for `Query.matches`."""
    return {code: fold_vietnamese(f"{vi} {en}") for code, (vi, en) in types.items()}
