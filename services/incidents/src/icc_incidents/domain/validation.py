"""Input rules shared by every way an incident is written."""

import math
import re
from dataclasses import dataclass

from icc_city.area import ServiceArea
from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.model import Caller, Location
from icc_incidents.domain.questions import KeyQuestions
from icc_kernel.errors import Violation

MAX_ADDRESS = 500
MAX_WARD = 100
MAX_DESCRIPTION = 2000
MAX_CALLER_NAME = 200
MAX_NOTE = 4000
MAX_REASON = 1000
_PHONE = re.compile(r"^\+?[0-9][0-9 .-]{2,19}$")


@dataclass(frozen=True)
class Rules:
    catalog: Catalog
    area: ServiceArea
    questions: KeyQuestions


def check_type_code(rules: Rules, code: str, field: str, out: list[Violation]) -> None:
    if not code:
        out.append(Violation(field, "required: an incident type code such as FIRE.STRUCTURE"))
    elif code not in rules.catalog:
        out.append(Violation(field, f"unknown incident type {code[:60]!r}; see ListIncidentTypes"))


def check_location(rules: Rules, loc: Location | None, field: str, out: list[Violation]) -> None:
    if loc is None:
        out.append(Violation(field, "required"))
        return
    ok = True
    if not math.isfinite(loc.lat) or not -90 <= loc.lat <= 90:
        out.append(Violation(f"{field}.lat", "must be a latitude between -90 and 90"))
        ok = False
    if not math.isfinite(loc.lon) or not -180 <= loc.lon <= 180:
        out.append(Violation(f"{field}.lon", "must be a longitude between -180 and 180"))
        ok = False
    if ok and not rules.area.contains(loc.lat, loc.lon):
        out.append(Violation(field, f"({loc.lat:.5f}, {loc.lon:.5f}) is outside Ho Chi Minh City"))
    check_length(loc.address, MAX_ADDRESS, f"{field}.address", out)
    check_length(loc.ward, MAX_WARD, f"{field}.ward", out)


def check_caller(caller: Caller, field: str, out: list[Violation]) -> None:
    check_length(caller.name, MAX_CALLER_NAME, f"{field}.name", out)
    check_phone(caller.phone, f"{field}.phone", out)
    check_length(caller.language, 35, f"{field}.language", out)


def check_phone(phone: str, field: str, out: list[Violation]) -> None:
    if phone and not _PHONE.match(phone):
        out.append(Violation(field, "must be a phone number (digits, optional +)"))


def check_length(text: str, limit: int, field: str, out: list[Violation]) -> None:
    if len(text) > limit:
        out.append(Violation(field, f"at most {limit} characters (got {len(text)})"))
