"""Public warnings (floods, fires, road closures) as supervisors issue, update and cancel
them: each change is one CAP 1.2 message (`icc_gateway.cap`), a drill's with
status Exercise, which never reaches the public feed.

A warning keeps its id; each message has its own identifier (`{id}.{version}`), and an
update or a cancellation references the messages before it, as CAP asks.
"""

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from icc_kernel.errors import IllegalTransition, InvalidInput, Violation, raise_if_any

SENDER = "icc.tphcm.gov.vn"
LANGUAGES = ("vi-VN", "en-US")
MAX_VALIDITY = timedelta(days=14)
MAX_RADIUS_KM = 100.0
MAX_POINTS = 200
MAX_AREAS = 20


class Category(StrEnum):
    GEO = "Geo"
    MET = "Met"
    SAFETY = "Safety"
    SECURITY = "Security"
    RESCUE = "Rescue"
    FIRE = "Fire"
    HEALTH = "Health"
    ENV = "Env"
    TRANSPORT = "Transport"
    INFRA = "Infra"
    CBRNE = "CBRNE"
    OTHER = "Other"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Severity(StrEnum):
    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class MessageType(StrEnum):
    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


@dataclass(frozen=True)
class Text:
    """One language's words (an `info` block)."""

    event: str
    headline: str
    description: str = ""
    instruction: str = ""


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True)
class Area:
    """Where: drawn on the map (polygons, circles) or chosen wards, described in words."""

    description_vi: str
    description_en: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    circles: tuple[Circle, ...] = ()
    wards: tuple[str, ...] = ()


@dataclass(frozen=True)
class WarningDraft:
    category: Category
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    vi: Text
    en: Text
    areas: tuple[Area, ...]
    expires: datetime
    exercise: bool = False


@dataclass(frozen=True)
class Message:
    """One CAP message of a warning, as sent."""

    identifier: str
    sent: datetime
    msg_type: MessageType


@dataclass(frozen=True)
class PublicWarning:
    id: str
    draft: WarningDraft
    # Every message so far, oldest first; the last is the current one.
    messages: tuple[Message, ...]
    issued_by: str

    @property
    def current(self) -> Message:
        return self.messages[-1]

    @property
    def cancelled(self) -> bool:
        return self.current.msg_type is MessageType.CANCEL

    @property
    def status(self) -> str:
        return "Exercise" if self.draft.exercise else "Actual"

    def public(self, now: datetime) -> bool:
        """In the public feed: a real warning (never a drill) not yet expired."""
        return not self.draft.exercise and self.draft.expires > now


def _text(t: Text, lang: str, out: list[Violation]) -> None:
    if not t.event.strip():
        out.append(Violation(f"{lang}.event", "required: what kind of event, in words"))
    if not t.headline.strip():
        out.append(Violation(f"{lang}.headline", "required: the warning in one line"))
    for field, value, most in (
        ("event", t.event, 200),
        ("headline", t.headline, 160),
        ("description", t.description, 4000),
        ("instruction", t.instruction, 2000),
    ):
        if len(value) > most:
            out.append(Violation(f"{lang}.{field}", f"at most {most} characters"))


def _point(lat: float, lon: float, field: str, out: list[Violation]) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        out.append(Violation(field, "must be a latitude and a longitude"))


def check(draft: WarningDraft, now: datetime, known_wards: frozenset[str]) -> None:
    """InvalidInput naming every bad field."""
    out: list[Violation] = []
    _text(draft.vi, "vi", out)
    _text(draft.en, "en", out)
    if draft.expires <= now:
        out.append(Violation("expires", "must be in the future"))
    elif draft.expires > now + MAX_VALIDITY:
        out.append(Violation("expires", "at most 14 days ahead: issue a new warning then"))
    if not draft.areas:
        out.append(Violation("areas", "at least one area"))
    if len(draft.areas) > MAX_AREAS:
        out.append(Violation("areas", f"at most {MAX_AREAS}"))
    for n, area in enumerate(draft.areas):
        where = f"areas[{n}]"
        if not area.description_vi.strip() or not area.description_en.strip():
            out.append(Violation(f"{where}.description", "required in Vietnamese and English"))
        if not (area.polygons or area.circles or area.wards):
            out.append(Violation(where, "draw a polygon or a circle, or choose wards"))
        for k, polygon in enumerate(area.polygons):
            ring = _closed(polygon)
            if len(ring) < 4 or len(ring) > MAX_POINTS:
                out.append(
                    Violation(f"{where}.polygons[{k}]", f"3 to {MAX_POINTS - 1} distinct points")
                )
            for m, (lat, lon) in enumerate(polygon):
                _point(lat, lon, f"{where}.polygons[{k}][{m}]", out)
        for k, c in enumerate(area.circles):
            _point(c.lat, c.lon, f"{where}.circles[{k}]", out)
            if not (0 < c.radius_km <= MAX_RADIUS_KM):
                out.append(
                    Violation(
                        f"{where}.circles[{k}].radius_km", f"above 0, at most {MAX_RADIUS_KM:.0f}"
                    )
                )
        for k, ward in enumerate(area.wards):
            if ward not in known_wards:
                out.append(Violation(f"{where}.wards[{k}]", "not a ward or commune of the city"))
    raise_if_any(out)


def _closed(polygon: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
    """CAP's polygons end on their first point."""
    if polygon and polygon[0] != polygon[-1]:
        return (*polygon, polygon[0])
    return polygon


def closed_areas(areas: tuple[Area, ...]) -> tuple[Area, ...]:
    return tuple(replace(a, polygons=tuple(_closed(p) for p in a.polygons)) for a in areas)


def identifier(warning_id: str, version: int) -> str:
    return f"urn:icc:warning:{warning_id}.{version}"


def issue(
    draft: WarningDraft, *, warning_id: str, by: str, now: datetime, known_wards: frozenset[str]
) -> PublicWarning:
    check(draft, now, known_wards)
    draft = replace(draft, areas=closed_areas(draft.areas))
    first = Message(identifier(warning_id, 1), now, MessageType.ALERT)
    return PublicWarning(warning_id, draft, (first,), by)


def update(
    warning: PublicWarning, draft: WarningDraft, *, now: datetime, known_wards: frozenset[str]
) -> PublicWarning:
    if warning.cancelled:
        raise IllegalTransition(f"warning {warning.id} was cancelled; issue a new one")
    if draft.exercise != warning.draft.exercise:
        raise InvalidInput.one("exercise", "a drill stays a drill, a real warning stays real")
    check(draft, now, known_wards)
    draft = replace(draft, areas=closed_areas(draft.areas))
    message = Message(identifier(warning.id, len(warning.messages) + 1), now, MessageType.UPDATE)
    return replace(warning, draft=draft, messages=(*warning.messages, message))


def cancel(warning: PublicWarning, *, now: datetime) -> PublicWarning:
    if warning.cancelled:
        raise IllegalTransition(f"warning {warning.id} is cancelled already")
    message = Message(identifier(warning.id, len(warning.messages) + 1), now, MessageType.CANCEL)
    return replace(warning, messages=(*warning.messages, message))
