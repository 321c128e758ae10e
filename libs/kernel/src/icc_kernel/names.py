"""Resource names (`incidents/{id}`, `units/{id}`): made and parsed in one way."""

from collections.abc import Sequence
from typing import ClassVar

from icc_kernel.errors import InvalidInput, Violation
from icc_kernel.etags import etag_of

MAX_ID = 64
# Incident ids are 16 hex digits; a name with a longer id names no incident.
MAX_INCIDENT_ID = 32


def name_of(collection: str, rid: str) -> str:
    return f"{collection}/{rid}"


def parse_name(name: str, collection: str, field: str, max_len: int = MAX_ID) -> str:
    """The id in `collection/{id}`; InvalidInput naming `field` for anything else."""
    prefix, _, rid = name.partition("/")
    if prefix != collection or not rid or len(rid) > max_len or "/" in rid:
        raise InvalidInput.one(field, f"must be {collection}/{{id}}, got {name[:80]!r}")
    return rid


def id_of(name: str) -> str:
    """The id of a name that is already known to be well formed (`units/U1` -> `U1`)."""
    return name.rpartition("/")[2]


def listed_violations(ids: Sequence[str], field: str, noun: str, most: int) -> list[Violation]:
    """What is wrong with the things a request lists (`units`): none, too many, one twice."""
    out: list[Violation] = []
    if not ids:
        out.append(Violation(field, f"name at least one {noun}"))
    if len(ids) > most:
        out.append(Violation(field, f"at most {most} {noun}s per request"))
    if len(set(ids)) != len(ids):
        out.append(Violation(field, f"a {noun} is named twice"))
    return out


class Named:
    """A record with a resource name (`<COLLECTION>/<id>`) and a weak etag counting its
    versions; a dataclass with `id` and `version` fields subclasses it."""

    COLLECTION: ClassVar[str]
    id: str
    version: int

    @property
    def name(self) -> str:
        return name_of(self.COLLECTION, self.id)

    @property
    def etag(self) -> str:
        return etag_of(self.version)
