"""An incident as a NENA EIDO document (NENA-STA-021, JSON): domain in, plain dict out.

Components made: incident, call (one per caller, with the line), location (PIDF-LO with the
point, the ward and the address), agency (the command center and each agency involved),
dispatch and emergency resource (the assignments as this service knows them), notes (the
description, the narrative), caution, merge (folded duplicates either way), link (possible
duplicates, and the sender's incident for a transferred call); person and callback only
when the reader may see personal data. Every component carries the prologue (`$id`,
`lastUpdateTimeStamp`, `updatedByAgencyReference`) and every `$ref` names a component of
the same document. No agent component: ICC records no agents' identities in documents it
shares (and NENA's file has a typo there, see data/eido/SOURCE.md).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from icc_incidents.domain.catalog import IncidentType
from icc_incidents.domain.model import Caller, Incident
from icc_incidents.eido import codes, pidf
from icc_kernel.names import id_of
from icc_kernel.vocabulary import Agency, IncidentState

# The command center's identifier among EIDO agencies and functional elements.
DOMAIN = "icc.tphcm.gov.vn"
EIDO_VERSION = "1.0"
CONTEXT = {"@vocab": "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"}
# Marks the note that holds the incident's description (the others are the narrative).
DESCRIPTION_SUFFIX = "-description"
EXERCISE_STATUS = "EXERCISE"
CALL_PRIORITY = {1: "highest", 2: "high", 3: "normal", 4: "low"}
# The NENA Incident Status registry's words for ICC's states.
STATUS = {
    IncidentState.NEW: "Pending",
    IncidentState.DISPATCHED: "Dispatched",
    IncidentState.EN_ROUTE: "Dispatched",
    IncidentState.ON_SCENE: "OnScene",
    IncidentState.CLOSED: "Closed",
    IncidentState.MERGED: "Closed",
    IncidentState.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class SenderLink:
    """The incident a partner transferred to ICC: its tracking id and its agency."""

    document_id: str
    agency: str
    internal_id: str = ""


def tracking_id(incident_id: str) -> str:
    """An ICC incident's globally unique EIDO incident tracking identifier."""
    return f"urn:emergency:uid:incidentid:{incident_id}:{DOMAIN}"


def assignment_resource_id(assignment: str) -> str:
    """The emergency resource component's `$id` for an assignment (`assignments/ID`)."""
    return f"urn:emergency:uid:resourceid:{id_of(assignment)}:{DOMAIN}"


def incident_id_of(tracking: str) -> str | None:
    """The ICC incident a tracking id names, or None when it is another center's."""
    prefix, suffix = "urn:emergency:uid:incidentid:", f":{DOMAIN}"
    if tracking.startswith(prefix) and tracking.endswith(suffix):
        return tracking.removeprefix(prefix).removesuffix(suffix) or None
    return None


def agency_id(agency: Agency) -> str:
    return DOMAIN if agency is Agency.COMMAND_CENTER else f"{agency.name.lower()}.{DOMAIN}"


def _time(t: datetime) -> str:
    return t.isoformat()


@dataclass
class _Builder:
    incident: Incident
    personal_data: bool

    def id(self, kind: str, n: object = 0) -> str:
        return f"urn:emergency:uid:{kind}:{self.incident.id}-{n}:{DOMAIN}"

    def prologue(self, component_id: str, when: datetime) -> dict[str, Any]:
        return {
            "$id": component_id,
            "lastUpdateTimeStamp": _time(when),
            "updatedByAgencyReference": {"$ref": DOMAIN},
        }


def _refs(ids: list[str]) -> list[dict[str, str]]:
    return [{"$ref": i} for i in ids]


def to_eido(
    incident: Incident,
    kind: IncidentType | None,
    *,
    personal_data: bool,
    senders: tuple[SenderLink, ...] = (),
    absorbed: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The document; `kind`: the incident's type from the catalog (labels), `senders`: the
    partners' incidents it was transferred from, `absorbed`: ids of incidents merged into it."""
    i = incident
    b = _Builder(i, personal_data)
    notes = _notes(b)
    location = _location(b)
    calls, persons, callbacks = _calls(b, (i.caller, *i.additional_callers), location["$id"])
    incident_notes = [n["$id"] for n in notes]
    resources, dispatches = _resources(b)
    cautions, caution_notes = _cautions(b)
    doc: dict[str, Any] = {
        **b.prologue(tracking_id(i.id), i.update_time),
        "eidoVersion": EIDO_VERSION,
        "issuingElementIdentification": DOMAIN,
        "incidentComponent": _incident(b, kind, location["$id"], persons, incident_notes),
        "callComponent": calls,
    }
    # Components with nothing in them are left out, in the document's order.
    _put(doc, "callbackComponent", callbacks)
    doc["agencyComponent"] = _agencies(b, dispatches, senders)
    _put(doc, "dispatchComponent", dispatches)
    _put(doc, "emergencyResourceComponent", resources)
    doc["locationComponent"] = [location]
    _put(doc, "personComponent", persons)
    _put(doc, "cautionComponent", cautions)
    _put(doc, "notesComponent", notes + caution_notes)
    _put(doc, "mergeComponent", _merges(b, absorbed))
    _put(doc, "linkComponent", _links(b, senders))
    doc["@context"] = dict(CONTEXT)
    return doc


def _put(doc: dict[str, Any], key: str, components: list[dict[str, Any]]) -> None:
    if components:
        doc[key] = components


def _notes(b: _Builder) -> list[dict[str, Any]]:
    """The description, then (with personal data) the narrative's notes."""
    i = b.incident
    notes: list[dict[str, Any]] = []
    if i.description:
        note_id = b.id("noteid", DESCRIPTION_SUFFIX.lstrip("-"))
        notes.append({**b.prologue(note_id, i.create_time), "notesActionComments": i.description})
    if b.personal_data:
        for n in i.notes:
            note_id = b.id("noteid", n.id)
            notes.append({**b.prologue(note_id, n.create_time), "notesActionComments": n.text})
    return notes


def _location(b: _Builder) -> dict[str, Any]:
    i = b.incident
    location = {
        **b.prologue(b.id("locationid"), i.update_time),
        "locationTypeDescriptionRegistryText": "Incident",
        "locationByValue": pidf.write(
            f"pres:{i.id}@{DOMAIN}",
            i.location.lat,
            i.location.lon,
            i.location.address,
            i.location.ward,
        ),
    }
    if i.location.address:
        location["locationDescriptionText"] = i.location.address
    return location


def _incident(
    b: _Builder,
    kind: IncidentType | None,
    location_id: str,
    persons: list[dict[str, Any]],
    note_ids: list[str],
) -> dict[str, Any]:
    i = b.incident
    statuses = [STATUS[i.state], *([EXERCISE_STATUS] if i.exercise else [])]
    component: dict[str, Any] = {
        **b.prologue(b.id("incidentcomponentid"), i.update_time),
        "incidentTypeCommonRegistryText": codes.APCO_OF_TYPE.get(i.type_code, codes.UNKNOWN_APCO),
        "incidentTypeInternalCode": i.type_code,
        "incidentStatusCommonRegistryText": [STATUS[i.state]],
        "incidentStatusInternalText": [i.state.name, *statuses[1:]],
        "internalIncidentId": i.name,
        "incidentCommonPriorityNumber": int(i.priority),
        "incidentPriorityInternalText": i.priority.name,
        "locationReference": _refs([location_id]),
    }
    if kind is not None:
        component["incidentTypeInternalText"] = f"{kind.label_vi} / {kind.label_en}"
    if persons:
        component["personReference"] = _refs([p["$id"] for p in persons])
    if note_ids:
        component["notesReference"] = _refs(note_ids)
    if i.state in (IncidentState.CLOSED, IncidentState.CANCELLED) and i.close_time:
        component["dispositionComponent"] = [
            {
                **b.prologue(b.id("dispositionid"), i.close_time),
                "dispositionCommonRegistryCode": i.state.name.capitalize(),
                "dispositionPrimaryIndicator": True,
                **({"dispositionDescriptionText": i.resolution} if i.resolution else {}),
            }
        ]
    return component


def _cautions(b: _Builder) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(cautions, their notes): each caution's words are a note that points at it."""
    cautions, notes = [], []
    for k, c in enumerate(b.incident.cautions):
        caution_id = b.id("cautionid", k)
        cautions.append(
            {
                **b.prologue(caution_id, c.create_time),
                "cautionTypeInternalText": c.kind.name,
                "cautionTypeCommonRegistryText": codes.CAUTION_TYPE[c.kind],
                "cautionSeverity": codes.CAUTION_SEVERITY.get(c.kind, "normal"),
                "cautionSource": DOMAIN,
                "startDate": _time(c.create_time),
            }
        )
        notes.append(
            {
                **b.prologue(b.id("noteid", f"caution-{k}"), c.create_time),
                "notesActionComments": c.text,
                "cautionReference": _refs([caution_id]),
            }
        )
    return cautions, notes


def _merges(b: _Builder, absorbed: tuple[str, ...]) -> list[dict[str, Any]]:
    """The incidents merged into this one, and the one it was merged into."""
    i = b.incident
    merges = [
        {
            **b.prologue(b.id("mergeid", n), i.update_time),
            "incidentTrackingIdentifier": tracking_id(other),
            "incidentMergeDirectionCode": "REPLACING",
        }
        for n, other in enumerate(absorbed)
    ]
    if i.merged_into:
        merges.append(
            {
                **b.prologue(b.id("mergeid", "into"), i.close_time or i.update_time),
                "incidentTrackingIdentifier": tracking_id(i.merged_into.partition("/")[2]),
                "incidentMergeDirectionCode": "REPLACED",
            }
        )
    return merges


def _links(b: _Builder, senders: tuple[SenderLink, ...]) -> list[dict[str, Any]]:
    """Possible duplicates, and the partners' incidents the call was transferred from."""
    i = b.incident
    links = [
        {
            **b.prologue(b.id("linkid", n), i.create_time),
            "incidentTrackingIdentifier": tracking_id(d.incident.partition("/")[2]),
            "linkDirectionCode": "RELATED",
            "transactionReasonText": "possible duplicate: "
            + ", ".join(r.name.lower() for r in d.reasons),
        }
        for n, d in enumerate(i.possible_duplicates)
    ]
    links.extend(
        {
            **b.prologue(b.id("linkid", f"sender-{n}"), i.create_time),
            "incidentTrackingIdentifier": s.document_id,
            "linkDirectionCode": "RELATED",
            "transactionReasonText": "call transferred to the command center",
            "involvedAgencyReference": {"$ref": s.agency},
        }
        for n, s in enumerate(senders)
    )
    return links


def _calls(
    b: _Builder, callers: tuple[Caller, ...], location_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    calls, persons, callbacks = [], [], []
    i = b.incident
    for n, c in enumerate(callers):
        line = c.call_line or i.call_line
        when = c.call_time or i.create_time
        call_id = b.id("callid", n)
        call: dict[str, Any] = {
            **b.prologue(call_id, when),
            "queueIdentifier": codes.LOCAL_CALL_TYPE[line],
            "standardPrimaryCallType": "emergency",
            "localCallType": codes.LOCAL_CALL_TYPE[line],
            "direction": "incoming",
            "priorityIdentifier": CALL_PRIORITY[int(i.priority)],
            "callStartTimestamp": _time(when),
            "callStateRegistryText": "callEnd",
            "locationReference": _refs([location_id]),
        }
        if b.personal_data and (c.name or c.phone or c.language):
            person_id = b.id("personid", n)
            person: dict[str, Any] = {
                **b.prologue(person_id, when),
                "personIncidentRoleRegistryText": ["Caller"],
                "callIdentifier": [call_id],
            }
            named: dict[str, Any] = {}
            if c.name:
                named["name"] = [{"personFullName": [{"value": c.name}]}]
            if c.language:
                named["primaryLanguage"] = [{"languageName": [{"value": c.language}]}]
            if named:
                person["ncPersonComponent"] = named
            if c.phone:
                callback_id = b.id("callbackid", n)
                callbacks.append(
                    {
                        **b.prologue(callback_id, when),
                        "callBackInformationUri": [f"tel:{c.phone.replace(' ', '')}"],
                    }
                )
                person["callBackReference"] = {"$ref": callback_id}
                call["callBackReference"] = {"$ref": callback_id}
            persons.append(person)
            call["personReference"] = _refs([person_id])
        calls.append(call)
    return calls, persons, callbacks


def _resources(b: _Builder) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each assignment as an emergency resource; one dispatch per agency that sent units."""
    i = b.incident
    resources: list[dict[str, Any]] = []
    by_agency: dict[Agency, list[str]] = {}
    for a in i.assignments:
        # The assignment's own id: a partner acknowledges `assignments/ID` with it.
        resource_id = assignment_resource_id(a.name)
        when = a.release_time or a.assign_time or i.update_time
        resource: dict[str, Any] = {
            **b.prologue(resource_id, when),
            "emergencyResourceTypeCommonRegistryText": codes.RESPONDER_OF_AGENCY[a.agency],
            "emergencyResourceTypeInternalText": a.unit,
            "emergencyResourceName": a.call_sign or a.unit,
            "resourceAttributeRegistryText": [],
            "primaryUnitStatusRegistryText": codes.UNIT_STATUS[a.state],
            "secondaryUnitStatusRegistryText": [],
            "unitStatusInternal": [a.state.name],
            "agentReference": [],
        }
        if a.assign_time is not None and a.eta_s > 0:
            resource["eta"] = _time(a.assign_time + timedelta(seconds=a.eta_s))
        if a.active:
            resource["activeOnIncidentId"] = tracking_id(i.id)
        resources.append(resource)
        by_agency.setdefault(a.agency, []).append(resource_id)
    dispatches = [
        {
            **b.prologue(b.id("dispatchid", agency.name.lower()), i.update_time),
            "agencyReference": {"$ref": agency_id(agency)},
            "emergencyResourceReference": _refs(ids),
        }
        for agency, ids in by_agency.items()
    ]
    return resources, dispatches


def _agencies(
    b: _Builder, dispatches: list[dict[str, Any]], senders: tuple[SenderLink, ...]
) -> list[dict[str, Any]]:
    i = b.incident
    out = [
        {
            **b.prologue(DOMAIN, i.create_time),
            "agencyRoleDescriptionRegistryText": ["CallReceiving", "Dispatching"],
            "agencyType": ["psap"],
            "incidentOwningAgencyIndicator": True,
        }
    ]
    # Involved: the incident's agencies and those whose units were assigned.
    involved = dict.fromkeys((*i.agencies, *(a.agency for a in i.assignments)))
    for agency in involved:
        if agency is Agency.COMMAND_CENTER:
            continue
        out.append(
            {
                **b.prologue(agency_id(agency), i.update_time),
                "agencyRoleDescriptionRegistryText": ["Responding"],
                "agencyType": [codes.RESPONDER_OF_AGENCY[agency]],
                "incidentOwningAgencyIndicator": False,
            }
        )
    known = {a["$id"] for a in out}
    for s in senders:
        if s.agency not in known:
            known.add(s.agency)
            out.append(
                {
                    **b.prologue(s.agency, i.create_time),
                    "agencyRoleDescriptionRegistryText": ["CallTransferring"],
                    "agencyType": [],
                    "incidentOwningAgencyIndicator": False,
                }
            )
    return out
