"""An incident as a row of `incidents` and back (assignments, answers and what intake
found are JSON columns)."""

import json
from datetime import datetime
from typing import Any

from icc_incidents.domain.duplicates import phone_key
from icc_incidents.domain.model import (
    Assignment,
    Caller,
    Incident,
    KeyAnswer,
    Location,
    Note,
)
from icc_incidents.store.intake_rows import intake_from, intake_json
from icc_kernel.actors import Actor
from icc_kernel.clock import as_utc, optional_utc
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CallLine,
    EtaSource,
    IncidentState,
    Priority,
)


def actor_values(prefix: str, actor: Actor) -> dict[str, Any]:
    """An actor as the values of its columns (`tables.actor_columns`)."""
    return {
        f"{prefix}_user": actor.user,
        f"{prefix}_agency": int(actor.agency),
        f"{prefix}_role": actor.role,
    }


def actor_from(r: Any, prefix: str) -> Actor:
    """The actor a row's columns (`tables.actor_columns`) hold."""
    user, agency, role = (getattr(r, f"{prefix}_{part}") for part in ("user", "agency", "role"))
    return Actor(user, Agency(agency), role)


def _mask(agencies: tuple[Agency, ...]) -> int:
    mask = 0
    for a in agencies:
        mask |= 1 << int(a)
    return mask


def _assignments_json(items: tuple[Assignment, ...]) -> str:
    return json.dumps(
        [
            {
                "name": a.name,
                "unit": a.unit,
                "call_sign": a.call_sign,
                "agency": int(a.agency),
                "state": int(a.state),
                "assign_time": a.assign_time.isoformat() if a.assign_time else None,
                "release_time": a.release_time.isoformat() if a.release_time else None,
                "eta_s": a.eta_s,
                "distance_m": a.distance_m,
                "eta_source": int(a.eta_source) if a.eta_source else 0,
            }
            for a in items
        ]
    )


def _assignments_from(text: str) -> tuple[Assignment, ...]:
    return tuple(
        Assignment(
            name=a["name"],
            unit=a["unit"],
            call_sign=a["call_sign"],
            agency=Agency(a["agency"]),
            state=AssignmentState(a["state"]),
            assign_time=datetime.fromisoformat(a["assign_time"]) if a["assign_time"] else None,
            release_time=datetime.fromisoformat(a["release_time"]) if a["release_time"] else None,
            # (Absent from assignments stored before trips were kept.)
            eta_s=a.get("eta_s", 0),
            distance_m=a.get("distance_m", 0),
            eta_source=EtaSource(a["eta_source"]) if a.get("eta_source") else None,
        )
        for a in json.loads(text)
    )


def row_values(i: Incident) -> dict[str, Any]:
    return {
        "type_code": i.type_code,
        "priority": int(i.priority),
        "state": int(i.state),
        "lat": i.location.lat,
        "lon": i.location.lon,
        "address": i.location.address,
        "ward": i.location.ward,
        # Every agency involved (assigned units' too): what a partner may read.
        "agency_mask": _mask(tuple(i.involved)),
        "agencies": ",".join(str(int(a)) for a in i.agencies),
        "caller_name": i.caller.name,
        "caller_phone": i.caller.phone,
        "caller_language": i.caller.language,
        "description": i.description,
        "exercise": i.exercise,
        "update_time": i.update_time,
        "first_dispatch_time": i.first_dispatch_time,
        "first_on_scene_time": i.first_on_scene_time,
        "close_time": i.close_time,
        "merged_into": i.merged_into,
        "resolution": i.resolution,
        "assignments": _assignments_json(i.assignments),
        "version": i.version,
        "call_line": int(i.call_line),
        "caller_phone_key": phone_key(i.caller.phone),
        "caller_count": i.caller_count,
        "answers": json.dumps([[a.question, a.answer] for a in i.answers]),
        "instructions": json.dumps(list(i.instructions)),
        "intake": intake_json(i),
    }


def incident_from_row(
    r: Any, notes_: tuple[Note, ...] = (), more_callers: tuple[Caller, ...] = ()
) -> Incident:
    line = CallLine(r.call_line)
    create_time = as_utc(r.create_time)
    found = intake_from(r.intake)
    return Incident(
        id=r.id,
        type_code=r.type_code,
        priority=Priority(r.priority),
        state=IncidentState(r.state),
        location=Location(r.lat, r.lon, r.address, r.ward),
        agencies=tuple(Agency(int(a)) for a in r.agencies.split(",") if a),
        caller=Caller(r.caller_name, r.caller_phone, r.caller_language, create_time, line),
        description=r.description,
        exercise=bool(r.exercise),
        created_by=actor_from(r, "created_by"),
        create_time=create_time,
        update_time=as_utc(r.update_time),
        version=r.version,
        first_dispatch_time=optional_utc(r.first_dispatch_time),
        first_on_scene_time=optional_utc(r.first_on_scene_time),
        close_time=optional_utc(r.close_time),
        merged_into=r.merged_into,
        resolution=r.resolution,
        assignments=_assignments_from(r.assignments),
        notes=notes_,
        call_line=line,
        possible_duplicates=found.possible_duplicates,
        cautions=found.cautions,
        history=found.history,
        answers=tuple(KeyAnswer(q, a) for q, a in json.loads(r.answers)),
        instructions=tuple(json.loads(r.instructions)),
        additional_callers=more_callers,
        caller_count=r.caller_count,
    )
