"""A partner's EIDO document read as a new call for ICC: plain dict in (already checked
against NENA's schema), domain out. Pure: the place of a civic address without a point is
left for the use case to find (`Transfer.place_query`).

What is read: the document's id (the sender's incident), its agency; the type (ICC's code
when the sender is ICC-aware, else the APCO code, else the least committal type of the
agency the call was sent to); the priority; the incident's location (PIDF-LO by value: a
point, or a civic address ICC then looks up); the first caller (name, language, the
callback number); the line; the description (ICC's description note, or the callers'
comments in additional data) and the other notes; the agencies that respond; a drill.
A location only by reference is refused: ICC does not fetch URLs a document names.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from icc_incidents.domain.catalog import Catalog
from icc_incidents.domain.lifecycle import Draft
from icc_incidents.domain.model import Caller, Location
from icc_incidents.eido import codes, pidf
from icc_incidents.eido.export import DESCRIPTION_SUFFIX, EXERCISE_STATUS
from icc_kernel.errors import InvalidInput, Violation, raise_if_any
from icc_kernel.vocabulary import Agency, CallLine, Priority

F = "document"
_PHONE = re.compile(r"^\+?[0-9][0-9.-]{2,19}$")
_LINE_IN_QUEUE = re.compile(r"\b(11[2-5])\b")
LOCATION_PREFERENCE = ("Incident", "RoutingLocation", "Caller")


@dataclass(frozen=True)
class Transfer:
    document_id: str
    sender_agency: str
    sender_internal_id: str
    last_update: datetime
    # `location` is None when only a civic address was given: `place_query` finds it.
    draft: Draft
    place_query: str = ""
    place_ward: str = ""
    notes: tuple[str, ...] = ()
    # The document named a type ICC could read (else the agency's least committal one).
    typed: bool = True
    responders: tuple[Agency, ...] = field(default=())
    # The sending agency is a PSAP: the call came in on an emergency line it answers.
    from_psap: bool = False


# A component of the document, with its path there (`document.locationComponent[0]`).
Found = tuple[str, dict[str, Any]]


def _index(doc: dict[str, Any]) -> dict[str, Found]:
    """Every component by its `$id`, with its path in the document."""
    out: dict[str, Found] = {}
    for key, value in doc.items():
        if key.endswith("Component") and isinstance(value, list):
            for n, c in enumerate(value):
                if isinstance(c, dict) and isinstance(c.get("$id"), str):
                    out.setdefault(c["$id"], (f"{F}.{key}[{n}]", c))
        elif key == "incidentComponent" and isinstance(value, dict):
            out.setdefault(value.get("$id", ""), (f"{F}.{key}", value))
    return out


@dataclass(frozen=True)
class _Reading:
    """The document being read: its incident and calls, every component by its `$id`, and
    the violations found on the way."""

    doc: dict[str, Any]
    incident: dict[str, Any]
    calls: list[dict[str, Any]]
    index: dict[str, Found]
    out: list[Violation]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> "_Reading":
        incident = doc.get("incidentComponent") or {}
        return cls(doc, incident, doc.get("callComponent") or [], _index(doc), [])

    def follow(self, refs: object, where: str) -> list[Found]:
        """The components a list of references names; a dangling one is a violation."""
        found = []
        items = refs if isinstance(refs, list) else [refs] if isinstance(refs, dict) else []
        for n, r in enumerate(items):
            target = r.get("$ref") if isinstance(r, dict) else None
            if target in self.index:
                found.append(self.index[target])
            else:
                path = f"{where}[{n}]" if isinstance(refs, list) else where
                why = f"names no component of the document: {target!r}"
                self.out.append(Violation(f"{path}.$ref", why))
        return found

    def referenced(self, key: str) -> list[Found]:
        """The components the incident's references under `key` name, then each call's."""
        found = self.follow(self.incident.get(key, []), f"{F}.incidentComponent.{key}")
        for n, call in enumerate(self.calls):
            found += self.follow(call.get(key, []), f"{F}.callComponent[{n}].{key}")
        return found


def read(doc: dict[str, Any], catalog: Catalog, now: datetime) -> Transfer:
    """InvalidInput naming each offending path (the schema was checked before)."""
    reading = _Reading.of(doc)
    incident, calls = reading.incident, reading.calls
    sender = doc["updatedByAgencyReference"]["$ref"]

    type_code, typed = _type(incident, doc, catalog)
    priority = _priority(incident, calls)

    place, place_path = _place(_locations(reading), reading.out)
    caller = _caller(reading)
    line = _line(calls)
    description, notes = _narrative(reading)
    statuses = incident.get("incidentStatusInternalText") or []
    responders = _responders(doc)
    raise_if_any(reading.out)
    if place is None:
        raise InvalidInput.one(
            place_path or f"{F}.locationComponent",
            "no location ICC can read: send a PIDF-LO by value (locationByValue) with a point "
            "or a civic address in Ho Chi Minh City",
        )
    draft = Draft(
        type_code=type_code,
        location=_location(place),
        priority=priority,
        agencies=responders,
        caller=caller,
        description=description,
        exercise=EXERCISE_STATUS in statuses,
        call_line=line,
    )
    return Transfer(
        document_id=doc["$id"],
        sender_agency=sender,
        sender_internal_id=str(incident.get("internalIncidentId", ""))[:300],
        last_update=_when(doc["lastUpdateTimeStamp"], now),
        draft=draft,
        place_query=""
        if place.has_point
        else ", ".join(p for p in (place.address, place.ward) if p),
        place_ward=place.ward,
        notes=notes,
        typed=typed,
        responders=responders,
        from_psap=_is_psap(doc, sender),
    )


def _locations(reading: _Reading) -> list[Found]:
    """The location's candidates: the incident's, then the calls', then any (`_place`
    ranks them by preference of their type)."""
    candidates = reading.referenced("locationReference")
    for n, loc in enumerate(reading.doc.get("locationComponent") or []):
        candidates.append((f"{F}.locationComponent[{n}]", loc))
    return candidates


def _location(place: pidf.Place) -> Location | None:
    """The place as the draft's location; None for a civic address without a point."""
    if not place.has_point:
        return None
    return Location(place.lat, place.lon, place.address, place.ward)  # type: ignore[arg-type]


def _is_psap(doc: dict[str, Any], agency_id: str) -> bool:
    for agency in doc.get("agencyComponent") or []:
        if agency.get("$id") == agency_id:
            return "psap" in (agency.get("agencyType") or [])
    return False


def _when(text: str, now: datetime) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return now
    # In UTC: SQLite keeps no offset, and times are compared.
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC)


def _type(incident: dict[str, Any], doc: dict[str, Any], catalog: Catalog) -> tuple[str, bool]:
    internal = incident.get("incidentTypeInternalCode", "")
    if internal in catalog:
        return internal, True
    mapped = codes.TYPE_OF_APCO.get(incident.get("incidentTypeCommonRegistryText", ""))
    if mapped is not None and mapped in catalog:
        return mapped, True
    for agency in _responders(doc):
        if agency in codes.UNCLASSIFIED_TYPE:
            return codes.UNCLASSIFIED_TYPE[agency], False
    return codes.UNCLASSIFIED_DEFAULT, False


def _priority(incident: dict[str, Any], calls: list[dict[str, Any]]) -> Priority | None:
    number = incident.get("incidentCommonPriorityNumber")
    if isinstance(number, int) and 1 <= number <= 4:
        return Priority(number)
    by_word = {"highest": Priority.P1, "high": Priority.P2, "normal": Priority.P3}
    by_word.update(low=Priority.P4, lowest=Priority.P4)
    for call in calls:
        if call.get("priorityIdentifier") in by_word:
            return by_word[call["priorityIdentifier"]]
    return None  # the type's default


def _place(candidates: list[Found], out: list[Violation]) -> tuple[pidf.Place | None, str]:
    def rank(item: Found) -> int:
        kind = item[1].get("locationTypeDescriptionRegistryText", "")
        return LOCATION_PREFERENCE.index(kind) if kind in LOCATION_PREFERENCE else 99

    first_path = ""
    civic: tuple[pidf.Place, str] | None = None
    for path, loc in sorted(candidates, key=rank):
        first_path = first_path or path
        value = loc.get("locationByValue")
        if not value:
            continue
        try:
            place = pidf.read(value)
        except pidf.NotPidf as exc:
            out.append(Violation(f"{path}.locationByValue", str(exc)))
            continue
        if place.has_point:
            return place, path
        civic = civic or (place, path)
    if civic is not None:
        return civic
    return None, first_path


def _caller(reading: _Reading) -> Caller:
    doc = reading.doc
    persons: list[Found] = []
    callback_refs: list[tuple[str, object]] = []
    for n, call in enumerate(reading.calls[:1]):
        persons += reading.follow(
            call.get("personReference", []), f"{F}.callComponent[{n}].personReference"
        )
        if "callBackReference" in call:
            path = f"{F}.callComponent[{n}].callBackReference"
            callback_refs.append((path, call["callBackReference"]))
    if not persons:
        persons = [
            (f"{F}.personComponent[{n}]", p)
            for n, p in enumerate(doc.get("personComponent") or [])
            if "Caller" in (p.get("personIncidentRoleRegistryText") or [])
        ][:1]
    name = language = ""
    for path, person in persons[:1]:
        nc = person.get("ncPersonComponent") or {}
        for n in nc.get("name") or []:
            full = [v.get("value", "") for v in n.get("personFullName") or []]
            parts = [
                v.get("value", "")
                for key in ("personSurName", "personMiddleName", "personGivenName")
                for v in n.get(key) or []
            ]
            name = name or " ".join(x for x in full if x) or " ".join(x for x in parts if x)
        for lang in nc.get("primaryLanguage") or []:
            words = [v.get("value", "") for v in lang.get("languageName") or []]
            language = language or next((w for w in words if w), "")
        if "callBackReference" in person:
            callback_refs.append((f"{path}.callBackReference", person["callBackReference"]))
    phone = ""
    for path, ref in callback_refs:
        for _, callback in reading.follow(ref, path):
            for uri in callback.get("callBackInformationUri") or []:
                number = _number(str(uri))
                if not phone and _PHONE.match(number):
                    phone = number
    return Caller(name=name[:200], phone=phone, language=language[:35])


def _number(uri: str) -> str:
    """The phone number of a tel: URI, or of a sip: URI whose user part is one
    (`sip:+84909123456@carrier;user=phone`); visual separators left out."""
    if uri.startswith("tel:"):
        text = uri.removeprefix("tel:").split(";")[0]
    elif uri.startswith(("sip:", "sips:")):
        text = uri.partition(":")[2].split("@")[0].split(";")[0]
    else:
        return ""
    return "".join(c for c in text if c not in " ()")


def _line(calls: list[dict[str, Any]]) -> CallLine | None:
    for call in calls[:1]:
        line = codes.LINE_OF_LOCAL_CALL_TYPE.get(call.get("localCallType", ""))
        if line is not None:
            return line
        found = _LINE_IN_QUEUE.search(str(call.get("queueIdentifier", "")))
        if found:
            return codes.LINE_OF_LOCAL_CALL_TYPE[found.group(1)]
    return None  # the importer's own line


def _narrative(reading: _Reading) -> tuple[str, tuple[str, ...]]:
    """(description, notes): ICC's description note, or the callers' comments."""
    noted = reading.referenced("notesReference")
    description = ""
    notes: list[str] = []
    for _, note in noted:
        if note.get("cautionReference"):
            continue  # a caution's words stay with the caution
        text = str(note.get("notesActionComments", "")).strip()
        if str(note.get("$id", "")).endswith(DESCRIPTION_SUFFIX + f":{_domain(note)}"):
            description = text
        elif text and text not in notes:
            notes.append(text)
    if not description:
        description = " ".join(_comments(reading.doc))
    return description[:2000], tuple(notes)


def _domain(component: dict[str, Any]) -> str:
    return str(component.get("$id", "")).rpartition(":")[2]


def _comments(doc: dict[str, Any]) -> list[str]:
    """The text of RFC 7852 Comment blocks sent by value."""
    found = []
    for data in doc.get("additionalDataComponent") or []:
        value = data.get("additionalDataByValue", "")
        if "EmergencyCallData.Comment" not in value:
            continue
        try:
            root = ElementTree.fromstring(value.encode("utf-8"))
        except (ElementTree.ParseError, DefusedXmlException):
            continue
        for node in root.iter():
            text = node.text or ""
            if node.tag.rpartition("}")[2] == "Comment" and text.strip():
                found.append(" ".join(text.split()))
    return found


def _responders(doc: dict[str, Any]) -> tuple[Agency, ...]:
    """ICC's agencies among those the document says respond."""
    found: list[Agency] = []
    for agency in doc.get("agencyComponent") or []:
        if "Responding" not in (agency.get("agencyRoleDescriptionRegistryText") or []):
            continue
        for word in agency.get("agencyType") or []:
            mapped = codes.AGENCY_OF_RESPONDER.get(str(word).split(".")[0])
            if mapped is not None and mapped is not Agency.COMMAND_CENTER:
                found.append(mapped)
    return tuple(dict.fromkeys(found))
