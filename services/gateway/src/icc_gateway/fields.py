"""The rules a request's fields are held to, each said in the OpenAPI document as well as
checked: ids, free text, phone numbers, what a caller says of a place, points in the
city, incident type codes, lists that name each thing once.

The document's patterns are ECMAScript's and unanchored (`[^\\s\\x00]` is "a character
other than white space somewhere"); the validators hold requests to exactly those
patterns, with a message that says which rule was broken. `schemas.py` and
`schemas_calltaking.py` build the request bodies from these.
"""

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

import annotated_types
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from icc_city.area import service_area
from icc_kernel.names import MAX_ID
from icc_kernel.requests import MAX_REQUEST_ID, REQUEST_ID

# Ids in paths and bodies: the characters of a request id (safe in a resource name).
ID_PATTERN = REQUEST_ID.pattern
RefId = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID, pattern=ID_PATTERN)]

# A client-chosen idempotency key (e.g. a UUID): the same key again does nothing twice.
RequestId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_REQUEST_ID, pattern=REQUEST_ID.pattern)
]

_ANY_TEXT = r"^[^\x00]*$"
# Not `\S`: it matches NUL, and a text with one NUL would keep the pattern.
_SOME_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
_PHONE = r"^(\+?[0-9][0-9 .-]{2,19})?$"


class Body(BaseModel):
    """A request body: unknown fields are ignored, as a newer screen may send more."""

    model_config = ConfigDict(extra="ignore")


def _text(value: str | None, *, required: bool, phone: bool) -> str | None:
    if value is None:  # an optional field left out
        return value
    if "\x00" in value:
        # PostgreSQL cannot store it; nothing a person types holds it.
        raise ValueError("must not contain the NUL character (\\u0000)")
    if required and not value.strip():
        raise ValueError("required: at least one character other than spaces")
    if phone and value and not re.fullmatch(_PHONE, value):
        raise ValueError(
            "must be a phone number: 3 to 20 digits, spaces, dots or dashes, "
            "starting with a digit or +"
        )
    return value


@dataclass(frozen=True)
class Text(annotated_types.GroupedMetadata):
    """A free-text field's rules: at most `max_length` characters, no NUL (Pydantic itself
    refuses a lone surrogate), and when `required` something other than spaces; `phone`:
    the services' rule for a caller's number, or empty. `Annotated[str, Text(500)]`."""

    max_length: int
    required: bool = False
    phone: bool = False

    def __iter__(self) -> Iterator[Any]:
        yield annotated_types.MaxLen(self.max_length)
        if self.required:
            yield annotated_types.MinLen(1)
        yield AfterValidator(partial(_text, required=self.required, phone=self.phone))
        pattern = _PHONE if self.phone else _SOME_TEXT if self.required else _ANY_TEXT
        yield Field(json_schema_extra={"pattern": pattern})


# What a caller says of a place (SearchPlaces' rule): 1 to 200 characters, something other
# than spaces, no control or format characters (Unicode Cc, Cf), private-use or surrogate
# code points; characters beyond the Basic Multilingual Plane (emoji) neither, so that the
# document's pattern means the same in ECMAScript (UTF-16) as in Python.
MAX_QUERY = 200


def _char_class(keep: Callable[[str], bool]) -> str:
    """A regex character class of the BMP characters `keep` accepts, written as ranges."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if not keep(chr(code)):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    parts = (f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return f"[{''.join(parts)}]"


def _spoken(c: str) -> bool:
    return unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co")


_SPOKEN = _char_class(_spoken)
_SPOKEN_WORD = _char_class(lambda c: _spoken(c) and not c.isspace())
QUERY_PATTERN = f"^{_SPOKEN}*{_SPOKEN_WORD}{_SPOKEN}*$"
_QUERY = re.compile(QUERY_PATTERN)


def _query(value: str) -> str:
    if not value.strip():
        raise ValueError("required: at least one character other than spaces")
    if not _QUERY.fullmatch(value):
        raise ValueError(
            "must not contain control or format characters, private-use code points "
            "or characters beyond the Basic Multilingual Plane (emoji)"
        )
    return value


PlaceQuery = Annotated[
    str,
    annotated_types.MinLen(1),
    annotated_types.MaxLen(MAX_QUERY),
    AfterValidator(_query),
    Field(json_schema_extra={"pattern": QUERY_PATTERN}),
]

# A point: the document gives the city's bounding box; the rule is its outline (a polygon,
# which JSON Schema cannot say), checked by the incidents service: 422 outside it.
SOUTH, WEST, NORTH, EAST = service_area().bounds()
IN_THE_CITY = (
    "With `lon`, a point inside the city (GET /api/v1/map's outline): else 422 with field "
    "`location`"
)
Lat = Annotated[
    float,
    Field(
        ge=-90,
        le=90,
        allow_inf_nan=False,
        json_schema_extra={"minimum": SOUTH, "maximum": NORTH},
        description=IN_THE_CITY,
    ),
]
Lon = Annotated[
    float,
    Field(
        ge=-180, le=180, allow_inf_nan=False, json_schema_extra={"minimum": WEST, "maximum": EAST}
    ),
]

# A code of the incident type catalog: the API document lists the codes once the gateway
# has read them (app.py fills `enum` wherever this marker stands).
TYPE_CODE_MARK = "x-icc-incident-type"
TypeCode = Annotated[
    str,
    Text(64, required=True),
    Field(
        description="A code of GET /api/v1/incident-types",
        json_schema_extra={TYPE_CODE_MARK: True},
    ),
]


def each_once(what: str) -> Callable[[list[str]], list[str]]:
    """A validator of a list that names each `what` once."""

    def check(ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError(f"{what} is named twice")
        return ids

    return check
