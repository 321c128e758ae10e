"""Request and response bodies of call-taking (API.md, Call-taking): places, possible
duplicates and another caller, premise cautions and a place's history, key questions and
their answers, merging duplicates. The shapes an incident carries (its cautions, possible
duplicates, history, answers) are in `schemas.py`, with the incident.

Query strings are models too (FastAPI reads each field from the query), so that a route's
parameters and their rules are declared once, like a body's.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from icc_gateway.domain.model import Shape
from icc_gateway.domain.names import CallLineName, CautionKindName, PlaceKindName
from icc_gateway.fields import (
    Body,
    Lat,
    Lon,
    PlaceQuery,
    RefId,
    RequestId,
    Text,
    TypeCode,
    each_once,
)
from icc_gateway.schemas import (
    CallerIn,
    Caution,
    Etag,
    IncidentDetail,
    KeyAnswers,
    PlaceHistory,
    PossibleDuplicate,
)
from icc_kernel.vocabulary import Priority

# A caution applies within this radius of its point (the incidents service's limit).
MAX_RADIUS_M = 2000
Radius = Annotated[float, Field(ge=0, le=MAX_RADIUS_M, allow_inf_nan=False)]


class Where(Body):
    """A point in the city."""

    lat: Lat
    lon: Lon


# Places


class PlaceSearch(BaseModel):
    q: PlaceQuery = Field(description="What the caller said, e.g. `cho ben thanh`, `quan 1`")
    lat: float | None = Field(
        None, ge=-90, le=90, allow_inf_nan=False, description="With `lon`: the map's centre"
    )
    lon: float | None = Field(
        None,
        ge=-180,
        le=180,
        allow_inf_nan=False,
        description="Among equally good matches the nearer to (lat, lon) come first; "
        "one without the other is not used",
    )
    max_results: int = Field(10, ge=1, le=50)


class Place(Shape):
    id: str
    label: str = Field(description="Its name as shown, in Vietnamese")
    kind: PlaceKindName | None
    lat: float
    lon: float
    address: str
    ward: str = Field(description="Today's ward or commune")
    approximate: bool = Field(description="The point is approximate (a few hundred metres)")
    matched: str = Field(description="The name or alias that matched")
    score: float = Field(description="Quality of the match, 0 to 1")
    distance_m: float | None = Field(description="From (lat, lon) of the request, if given")
    wards: list[str] = Field(description="A former district: the wards it became")
    source: str = Field(description="`gazetteer` or `geocoder`")


class Places(Shape):
    places: list[Place]


# Possible duplicates and another caller


class DuplicatesRequest(Body):
    """What the call form knows so far: a place, a caller's phone, or both (and the type
    when chosen)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "anyOf": [
                {"required": ["location"], "properties": {"location": {"type": "object"}}},
                {"required": ["caller_phone"], "properties": {"caller_phone": {"minLength": 3}}},
            ]
        },
    )

    location: Where | None = Field(None, description="The call's place; none: only the phone")
    type_code: TypeCode | None = Field(None, description="None: every family nearby counts")
    caller_phone: Annotated[str, Text(21, phone=True)] = Field(
        "", description="Matched at any distance; never logged"
    )

    @model_validator(mode="after")
    def _something_to_match(self) -> "DuplicatesRequest":
        if self.location is None and not self.caller_phone:
            raise ValueError("give `location`, `caller_phone` or both")
        return self


class Duplicates(Shape):
    duplicates: list[PossibleDuplicate] = Field(description="The same phone first, then nearest")


class AddCallerRequest(CallerIn):
    request_id: RequestId = Field(description="The same id again adds nobody twice")
    call_line: CallLineName | None = Field(None, description="None: the incident's line")


# Premise cautions and a place's history


class CautionRequest(Body):
    request_id: RequestId = Field(description="The same id again creates nothing twice")
    kind: CautionKindName = "OTHER"
    text: Annotated[str, Text(1000, required=True)] = Field(
        description="What responders must know: say what, not who (no names, no phones)"
    )
    lat: Lat
    lon: Lon
    address: Annotated[str, Text(500)] = ""
    ward: Annotated[str, Text(100)] = ""
    radius_m: Radius = Field(0, description="It applies within this radius (0: the address)")
    valid_until: datetime | None = Field(
        None,
        description="In the future and at most three years ahead, else 422; none: a year "
        "from now (a time without a zone is UTC)",
    )


class CautionResponse(Shape):
    caution: Caution


class CautionSearch(BaseModel):
    lat: Lat
    lon: Lon
    radius_m: Radius = Field(
        0, description="Also cautions whose area lies within this many metres of the point"
    )
    max_results: int = Field(20, ge=1, le=100)


class Cautions(Shape):
    cautions: list[Caution] = Field(description="In force at the point, nearest first")


class PointQuery(BaseModel):
    lat: Lat
    lon: Lon


class History(Shape):
    history: list[PlaceHistory] = Field(
        description="Incidents near the point lately, by family (what a new incident there "
        "would record)"
    )


# Key questions


class QuestionsQuery(BaseModel):
    type_code: TypeCode


class KeyAnswerOption(Shape):
    value: str
    label_vi: str
    label_en: str
    priority: Priority | None = Field(description="The priority this answer calls for")
    type_code: str = Field(description="The type this answer makes the incident, or empty")
    instruction_vi: str = Field(description="What the call-taker says now (e.g. CPR)")
    instruction_en: str


class KeyQuestion(Shape):
    id: str
    text_vi: str
    text_en: str
    options: list[KeyAnswerOption]


class KeyQuestions(Shape):
    type_code: str
    questions: list[KeyQuestion] = Field(description="In the order to ask them")


class AnswersRequest(Body):
    answers: Annotated[KeyAnswers, Field(min_length=1)] = Field(
        description="They replace earlier answers to the same questions"
    )
    etag: Etag = None


# Merging duplicates

IncidentIds = Annotated[
    list[RefId],
    Field(min_length=1, max_length=20, json_schema_extra={"uniqueItems": True}),
    AfterValidator(each_once("an incident")),
]


class MergeRequest(Body):
    duplicates: IncidentIds = Field(
        description="Incidents folded into this one; each must have no unit assigned (409)"
    )
    reason: Annotated[str, Text(1000)] = ""


class MergeResponse(Shape):
    incident: IncidentDetail = Field(description="The incident that survives")
    duplicates: list[IncidentDetail]
