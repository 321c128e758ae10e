"""Resource names (`incidents/{id}`, `units/{id}`): made and parsed in one way."""

from icc_kernel.errors import InvalidInput

MAX_ID = 64


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
