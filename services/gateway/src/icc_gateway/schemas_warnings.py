"""The JSON shapes of public warnings (routes/warnings.py): what a supervisor sends, and a
warning as the screen shows it. The CAP message itself is XML (cap.py)."""

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from icc_gateway.domain import warnings as w
from icc_gateway.domain.model import Shape
from icc_gateway.fields import EAST, NORTH, SOUTH, WEST, Body, RequestId, Text, each_once
from icc_gateway.public_warnings import KNOWN_WARDS

# Points of a warning's area: within the city's bounding box (an area may reach past its
# outline: a river, a neighbouring province's bank).
WarnLat = Annotated[float, Field(ge=SOUTH, le=NORTH, allow_inf_nan=False)]
WarnLon = Annotated[float, Field(ge=WEST, le=EAST, allow_inf_nan=False)]


def _ward(name: str) -> str:
    if name not in KNOWN_WARDS:
        raise ValueError("not a ward or commune of the city")
    return name


# A ward or commune by its name (the document lists them).
WardName = Annotated[
    str,
    Field(json_schema_extra={"enum": sorted(KNOWN_WARDS)}),
    AfterValidator(_ward),
]


class TextIn(Body):
    event: Annotated[str, Text(200, required=True)] = Field(description="The kind of event")
    headline: Annotated[str, Text(160, required=True)]
    description: Annotated[str, Text(4000)] = ""
    instruction: Annotated[str, Text(2000)] = Field("", description="What people should do")


class PointIn(Body):
    lat: WarnLat
    lon: WarnLon


class CircleIn(Body):
    lat: WarnLat
    lon: WarnLon
    radius_km: float = Field(gt=0, le=w.MAX_RADIUS_KM, allow_inf_nan=False)


class AreaIn(Body):
    description_vi: Annotated[str, Text(200, required=True)]
    description_en: Annotated[str, Text(200, required=True)]
    polygons: list[Annotated[list[PointIn], Field(min_length=3, max_length=w.MAX_POINTS - 1)]] = (
        Field([], max_length=20, description="Drawn on the map; closed for CAP if it is not")
    )
    circles: list[CircleIn] = Field([], max_length=20)
    wards: Annotated[
        list[WardName],
        Field(max_length=50, json_schema_extra={"uniqueItems": True}),
        AfterValidator(each_once("a ward")),
    ] = Field([], description="Wards and communes by name, each once")


class WarningRequest(Body):
    category: w.Category
    urgency: w.Urgency
    severity: w.Severity
    certainty: w.Certainty
    vi: TextIn = Field(description="Vietnamese (shown first)")
    en: TextIn = Field(description="English")
    areas: list[AreaIn] = Field(min_length=1, max_length=w.MAX_AREAS)
    expires: datetime = Field(
        description="In the future and at most 14 days ahead, else 422 (a time without a "
        "zone is UTC)"
    )

    def draft(self, exercise: bool) -> w.WarningDraft:
        expires = self.expires if self.expires.tzinfo else self.expires.replace(tzinfo=UTC)
        return w.WarningDraft(
            category=w.Category(self.category),
            urgency=w.Urgency(self.urgency),
            severity=w.Severity(self.severity),
            certainty=w.Certainty(self.certainty),
            vi=w.Text(**self.vi.model_dump()),
            en=w.Text(**self.en.model_dump()),
            areas=tuple(
                w.Area(
                    a.description_vi,
                    a.description_en,
                    tuple(tuple((p.lat, p.lon) for p in polygon) for polygon in a.polygons),
                    tuple(w.Circle(c.lat, c.lon, c.radius_km) for c in a.circles),
                    tuple(a.wards),
                )
                for a in self.areas
            ),
            expires=expires.astimezone(UTC),
            exercise=exercise,
        )


class NewWarningRequest(WarningRequest):
    request_id: RequestId = Field(
        description="The warning's id: the same id again issues nothing twice"
    )
    exercise: bool = Field(False, description="A drill: CAP status Exercise, never public")


class MessageOut(Shape):
    identifier: str
    sent: datetime
    msg_type: Literal["Alert", "Update", "Cancel"]


class TextOut(Shape):
    event: str
    headline: str
    description: str
    instruction: str


class CircleOut(Shape):
    lat: float
    lon: float
    radius_km: float


class PointOut(Shape):
    lat: float
    lon: float


class AreaOut(Shape):
    description_vi: str
    description_en: str
    polygons: list[list[PointOut]]
    circles: list[CircleOut]
    wards: list[str]


class WarningOut(Shape):
    id: str
    status: Literal["Actual", "Exercise"]
    cancelled: bool
    category: str
    urgency: str
    severity: str
    certainty: str
    headline_vi: str
    headline_en: str
    vi: TextOut = Field(description="What it says in Vietnamese (an update starts from it)")
    en: TextOut
    areas: list[AreaOut]
    expires: datetime
    issued_by: str
    messages: list[MessageOut] = Field(description="Every CAP message so far, oldest first")
    cap_url: str = Field(description="The current CAP message (XML)")


class WarningResponse(Shape):
    warning: WarningOut


class Wards(Shape):
    wards: list[str] = Field(description="The wards and communes a warning may name, sorted")


class Warnings(Shape):
    warnings: list[WarningOut] = Field(description="Unexpired, newest first, drills included")


def warning_out(warning: w.PublicWarning) -> WarningOut:
    d = warning.draft
    return WarningOut(
        id=warning.id,
        status="Exercise" if d.exercise else "Actual",
        cancelled=warning.cancelled,
        category=d.category.value,
        urgency=d.urgency.value,
        severity=d.severity.value,
        certainty=d.certainty.value,
        headline_vi=d.vi.headline,
        headline_en=d.en.headline,
        vi=TextOut(**asdict(d.vi)),
        en=TextOut(**asdict(d.en)),
        areas=[
            AreaOut(
                description_vi=a.description_vi,
                description_en=a.description_en,
                polygons=[[PointOut(lat=p[0], lon=p[1]) for p in poly] for poly in a.polygons],
                circles=[CircleOut(lat=c.lat, lon=c.lon, radius_km=c.radius_km) for c in a.circles],
                wards=list(a.wards),
            )
            for a in d.areas
        ],
        expires=d.expires,
        issued_by=warning.issued_by,
        messages=[
            MessageOut(identifier=m.identifier, sent=m.sent, msg_type=m.msg_type.value)
            for m in warning.messages
        ],
        cap_url=f"/api/v1/warnings/{warning.id}/cap",
    )
