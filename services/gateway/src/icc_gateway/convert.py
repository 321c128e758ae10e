"""Protobuf -> the JSON shapes of API.md, at the gateway's edge only.

Ids are bare (`9f3c...`, never `incidents/9f3c...`), enums are their names without the
prefix, times ISO 8601 UTC strings or None. The picture forms never carry personal data:
they are built from event snapshots, which have none, and `caller`/`notes` are left out
even when a gRPC answer has them.
"""

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.incident.v1 import incident_pb2
from icc.resource.v1 import resource_pb2

Item = dict[str, Any]
# Ordering of versions of one thing: (etag version, update time in microseconds).
Version = tuple[int, int]

_ETAG = re.compile(r'^(?:W/)?"?(\d+)"?$')


def _names(enum: Any, prefix: str) -> dict[int, str]:
    """A protobuf enum's values and names without the prefix (UNSPECIFIED left out)."""
    return {
        value: name.removeprefix(prefix)
        for name, value in enum.items()
        if not name.endswith("_UNSPECIFIED")
    }


AGENCY = _names(common_pb2.Agency, "AGENCY_")
PRIORITY = {1: 1, 2: 2, 3: 3, 4: 4}
ASSIGNMENT_STATE = _names(common_pb2.AssignmentState, "ASSIGNMENT_STATE_")
INCIDENT_STATE = _names(incident_pb2.IncidentState, "INCIDENT_STATE_")
UNIT_STATUS = _names(resource_pb2.UnitStatus, "UNIT_STATUS_")
UNIT_KIND = _names(resource_pb2.UnitKind, "UNIT_KIND_")
DIVERSION = _names(resource_pb2.DiversionStatus, "DIVERSION_STATUS_")
DISPATCH_STATE = _names(dispatch_pb2.DispatchState, "DISPATCH_STATE_")

# Back from names to protobuf values, for requests.
AGENCY_VALUE = {name: value for value, name in AGENCY.items()}
UNIT_STATUS_VALUE = {name: value for value, name in UNIT_STATUS.items()}

OPEN_STATES = (
    incident_pb2.INCIDENT_STATE_NEW,
    incident_pb2.INCIDENT_STATE_DISPATCHED,
    incident_pb2.INCIDENT_STATE_EN_ROUTE,
    incident_pb2.INCIDENT_STATE_ON_SCENE,
)
ENDED_STATES = (
    incident_pb2.INCIDENT_STATE_CLOSED,
    incident_pb2.INCIDENT_STATE_MERGED,
    incident_pb2.INCIDENT_STATE_CANCELLED,
)
# Assignment states only move forward; merging two views keeps the later one.
ASSIGNMENT_ORDER = {name: value for value, name in ASSIGNMENT_STATE.items()}


def bare(name: str) -> str:
    """`incidents/abc` -> `abc`; `incidents/abc/notes/7` -> `7`."""
    return name.rpartition("/")[2]


def bare_or_none(name: str) -> str | None:
    return bare(name) if name else None


def iso(value: Timestamp) -> str | None:
    if value.seconds == 0 and value.nanos == 0:
        return None
    moment = datetime.fromtimestamp(value.seconds, UTC).replace(microsecond=value.nanos // 1000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def micros(value: Timestamp) -> int:
    return value.seconds * 1_000_000 + value.nanos // 1000


def etag_version(etag: str) -> int:
    found = _ETAG.match(etag)
    return int(found.group(1)) if found else 0


def agencies(values: Iterable[int]) -> list[str]:
    return [AGENCY[v] for v in values if v in AGENCY]


def actor(a: common_pb2.Actor) -> Item:
    return {"user": a.user, "agency": AGENCY.get(a.agency), "role": a.role}


# The picture


def is_open(incident: incident_pb2.Incident) -> bool:
    return incident.state in OPEN_STATES


def incident_version(incident: incident_pb2.Incident) -> Version:
    return etag_version(incident.etag), micros(incident.update_time)


def incident_assignment(a: incident_pb2.Assignment) -> Item:
    # `kind` is not in the incident's copy; the picture fills it from the unit.
    return {
        "id": bare(a.name),
        "unit": bare(a.unit),
        "call_sign": a.call_sign,
        "agency": AGENCY.get(a.agency),
        "kind": None,
        "state": ASSIGNMENT_STATE.get(a.state),
        "assign_time": iso(a.assign_time),
    }


def assignment_from_dispatch(a: dispatch_pb2.Assignment) -> Item:
    """Dispatch's assignment in the picture's (incident's) form."""
    return {
        "id": bare(a.name),
        "unit": bare(a.unit),
        "call_sign": a.call_sign,
        "agency": AGENCY.get(a.agency),
        "kind": UNIT_KIND.get(a.kind),
        "state": ASSIGNMENT_STATE.get(a.state),
        "assign_time": iso(a.assign_time),
    }


def incident_item(i: incident_pb2.Incident) -> Item:
    """The picture form of an incident: no caller, no notes."""
    loc = i.location
    return {
        "id": bare(i.name),
        "type_code": i.type_code,
        "priority": PRIORITY.get(i.priority),
        "state": INCIDENT_STATE.get(i.state),
        "lat": loc.lat,
        "lon": loc.lon,
        "address": loc.address,
        "ward": loc.ward,
        "agencies": agencies(i.agencies),
        "description": i.description,
        "exercise": i.exercise,
        "create_time": iso(i.create_time),
        "first_dispatch_time": iso(i.first_dispatch_time),
        "first_on_scene_time": iso(i.first_on_scene_time),
        "close_time": iso(i.close_time),
        "etag": i.etag,
        "assignments": [incident_assignment(a) for a in i.assignments],
    }


def unit_version(u: resource_pb2.Unit) -> Version:
    return etag_version(u.etag), micros(u.status_time)


def unit_item(u: resource_pb2.Unit) -> Item:
    has_position = u.HasField("position")
    return {
        "id": bare(u.name),
        "call_sign": u.call_sign,
        "agency": AGENCY.get(u.agency),
        "kind": UNIT_KIND.get(u.kind),
        "status": UNIT_STATUS.get(u.status),
        "lat": u.position.lat if has_position else None,
        "lon": u.position.lon if has_position else None,
        "station": bare_or_none(u.home_station),
        "incident": bare_or_none(u.incident),
        "update_time": iso(u.status_time),
    }


def position_time(u: resource_pb2.Unit) -> int | None:
    """When the unit's position was taken (microseconds), None without one."""
    return micros(u.position.report_time) if u.HasField("position") else None


def hospital_version(h: resource_pb2.Hospital) -> Version:
    return etag_version(h.etag), micros(h.update_time)


def hospital_item(h: resource_pb2.Hospital) -> Item:
    return {
        "id": bare(h.name),
        "name_vi": h.name_vi,
        "name_en": h.name_en,
        "lat": h.location.lat,
        "lon": h.location.lon,
        "diversion": DIVERSION.get(h.diversion),
        "beds_available": h.available.emergency_beds,
    }


# Requests' answers


def caller(c: incident_pb2.Caller) -> Item:
    return {"name": c.name, "phone": c.phone, "language": c.language}


def note(n: incident_pb2.Note) -> Item:
    return {
        "id": bare(n.name),
        "text": n.text,
        "author": n.author.user,
        "create_time": iso(n.create_time),
    }


def incident_detail(i: incident_pb2.Incident, *, personal_data: bool) -> Item:
    """An incident with its narrative; `caller` and `notes` only with `personal_data`."""
    return {
        **incident_item(i),
        "caller": caller(i.caller) if personal_data else None,
        "notes": [note(n) for n in i.notes] if personal_data else [],
        "resolution": i.resolution,
        "merged_into": bare_or_none(i.merged_into),
    }


def chronology_entry(e: incident_pb2.ChronologyEntry) -> Item:
    return {
        "sequence": e.sequence,
        "time": iso(e.time),
        "actor": actor(e.actor),
        "action": e.action,
        "detail": e.detail,
    }


def incident_type(t: incident_pb2.IncidentType) -> Item:
    return {
        "code": t.code,
        "label_vi": t.label_vi,
        "label_en": t.label_en,
        "agencies": agencies(t.agencies),
        "priority": PRIORITY.get(t.default_priority),
        "family": t.code.partition(".")[0],
        # Words callers use (e.g. "hỏa hoạn"), so call takers find a type by them.
        "keywords_vi": list(t.keywords_vi),
    }


def station(s: resource_pb2.Station) -> Item:
    return {
        "id": bare(s.name),
        "name": s.name_vi or s.name_en,
        "agency": AGENCY.get(s.agency),
        "lat": s.location.lat,
        "lon": s.location.lon,
    }


def assignment(a: dispatch_pb2.Assignment) -> Item:
    """Dispatch's full assignment (the `Assignment` of the dispatch endpoints)."""
    return {
        **assignment_from_dispatch(a),
        "incident": bare(a.incident),
        "role": a.role,
        "eta_s": a.eta_seconds,
        "acknowledge_deadline": iso(a.acknowledge_deadline),
        "acknowledge_time": iso(a.acknowledge_time),
        "release_time": iso(a.release_time),
        "override": a.override,
        "override_reason": a.override_reason,
        "release_reason": a.release_reason,
        "assigned_by": actor(a.assigned_by) if a.HasField("assigned_by") else None,
    }


def plan(p: dispatch_pb2.ResponsePlan) -> Item:
    return {
        "type_code": p.type_code,
        "priority": PRIORITY.get(p.priority),
        "items": [
            {
                "role": i.role,
                "agency": AGENCY.get(i.agency),
                "kinds": [UNIT_KIND[k] for k in i.kinds if k in UNIT_KIND],
                "count": i.count,
                "first": i.first,
                "label_vi": i.label_vi,
                "label_en": i.label_en,
            }
            for i in p.items
        ],
    }


def shortfall(s: dispatch_pb2.Shortfall) -> Item:
    return {"role": s.role, "missing": s.missing}


def dispatch_status(s: dispatch_pb2.DispatchStatus) -> Item:
    planned = {(i.role, i.agency) for i in s.plan.items}
    active = [a for a in s.assignments if a.state != common_pb2.ASSIGNMENT_STATE_RELEASED]
    return {
        "state": DISPATCH_STATE.get(s.state),
        "assignments": [assignment(a) for a in s.assignments],
        # Auto-dispatch is short of units and waits for some to free up.
        "waiting": s.state == dispatch_pb2.DISPATCH_STATE_QUEUED,
        # A unit fills a role of another agency than the plan's (mutual aid).
        "mutual_aid": any(
            (a.role, a.agency) not in planned and any(i.role == a.role for i in s.plan.items)
            for a in active
        ),
        "shortfalls": [shortfall(x) for x in s.shortfalls],
    }


def recommendation(r: dispatch_pb2.Recommendation) -> Item:
    return {
        "plan": plan(r.plan),
        "candidates": [
            {
                "unit": bare(c.unit),
                "call_sign": c.call_sign,
                "agency": AGENCY.get(c.agency),
                "kind": UNIT_KIND.get(c.kind),
                "role": c.role,
                "eta_s": c.eta_seconds,
                "distance_m": c.distance_meters,
                "rank": c.rank,
                "reasons": list(c.reasons),
                "selected": c.selected,
                "mutual_aid": c.mutual_aid,
            }
            for c in r.candidates
        ],
        "shortfalls": [shortfall(s) for s in r.shortfalls],
        "eta_source": r.eta_source,
    }
