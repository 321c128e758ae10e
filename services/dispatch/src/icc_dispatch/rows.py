"""Dispatch's rows and its domain objects, each made from the other: a `Case` from an
incident row, an `Assignment` from an assignment row, and the values to store."""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from icc_dispatch.domain.case import Case
from icc_dispatch.domain.model import Assignment, Caution, IncidentPhase, IncidentView, Point
from icc_kernel import reasons
from icc_kernel.actors import Actor
from icc_kernel.clock import as_utc, optional_utc
from icc_kernel.reasons import Reason, ReasonCode
from icc_kernel.vocabulary import (
    Agency,
    AssignmentState,
    CautionKind,
    EtaSource,
    Priority,
    UnitKind,
)


def incident_from(r: Any) -> IncidentView:
    return IncidentView(
        id=r.id,
        type_code=r.type_code,
        priority=Priority(r.priority),
        location=Point(r.lat, r.lon),
        phase=IncidentPhase(r.phase),
        create_time=as_utc(r.create_time),
        version=r.version,
        auto=r.auto,
        exercise=r.exercise,
        cautions=cautions_of(r.cautions),
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(text: str | None) -> datetime | None:
    return as_utc(datetime.fromisoformat(text)) if text else None


def cautions_text(cautions: tuple[Caution, ...]) -> str:
    """The cautions as stored: a JSON list (`[]` for most incidents, which have none)."""
    if not cautions:
        return "[]"
    return json.dumps(
        [
            {
                "name": c.name,
                "kind": int(c.kind),
                "text": c.text,
                "lat": c.point.lat,
                "lon": c.point.lon,
                "address": c.address,
                "ward": c.ward,
                "radius_m": c.radius_m,
                "valid_until": _iso(c.valid_until),
                "by_user": c.created_by.user,
                "by_agency": int(c.created_by.agency),
                "by_role": c.created_by.role,
                "create_time": _iso(c.create_time),
            }
            for c in cautions
        ],
        ensure_ascii=False,
    )


def cautions_of(text: str) -> tuple[Caution, ...]:
    if text == "[]":
        return ()
    return tuple(
        Caution(
            name=d["name"],
            kind=CautionKind(d["kind"]),
            text=d["text"],
            point=Point(d["lat"], d["lon"]),
            address=d["address"],
            ward=d["ward"],
            radius_m=d["radius_m"],
            valid_until=_time(d["valid_until"]),
            created_by=Actor(d["by_user"], Agency(d["by_agency"]), d["by_role"]),
            create_time=_time(d["create_time"]),
        )
        for d in json.loads(text)
    )


def case_from(r: Any) -> Case:
    return Case(
        incident=incident_from(r),
        rev=r.rev,
        attention=r.attention,
        waiting=r.waiting,
        waiting_for=kinds_of(r.waiting_for),
        excluded=frozenset(json.loads(r.excluded)),
        recommended_version=r.recommended_version,
        trace_context=r.trace_context,
    )


def planning_fields(view: IncidentView) -> dict[str, Any]:
    return {
        "type_code": view.type_code,
        "priority": int(view.priority),
        "lat": view.location.lat,
        "lon": view.location.lon,
        "phase": int(view.phase),
    }


def copied_fields(view: IncidentView, trace_context: str) -> dict[str, Any]:
    return {
        **planning_fields(view),
        "version": view.version,
        "auto": view.auto,
        "exercise": view.exercise,
        "trace_context": trace_context,
        "cautions": cautions_text(view.cautions),
    }


def kinds_text(kinds: Iterable[UnitKind]) -> str:
    """`,1,6,`: each kind between commas, so a LIKE '%,6,%' finds one exactly."""
    values = sorted({int(k) for k in kinds})
    return "," + ",".join(str(v) for v in values) + "," if values else ""


def kinds_of(text: str) -> frozenset[UnitKind]:
    """The kinds in a `kinds_text`."""
    return frozenset(UnitKind(int(v)) for v in text.split(",") if v)


def assignment_from(r: Any) -> Assignment:
    return Assignment(
        id=r.id,
        incident_id=r.incident_id,
        unit_id=r.unit_id,
        call_sign=r.call_sign,
        agency=Agency(r.agency),
        kind=UnitKind(r.kind),
        role=r.role,
        state=AssignmentState(r.state),
        eta_s=r.eta_s,
        request_id=r.request_id,
        assigned_by=Actor(r.actor_user, Agency(r.actor_agency), r.actor_role),
        create_time=as_utc(r.create_time),
        assign_time=optional_utc(r.assign_time),
        ack_deadline=optional_utc(r.ack_deadline),
        ack_time=optional_utc(r.ack_time),
        release_time=optional_utc(r.release_time),
        override_reason=r.override_reason,
        release=_release_of(r.release_coded, r.release_reason),
        release_pending=r.release_pending,
        vacated=r.vacated,
        unit_version=r.unit_version,
        distance_m=r.distance_m,
        eta_source=EtaSource(r.eta_source) if r.eta_source else None,
        destination_hospital=r.destination_hospital,
    )


def _release_of(coded: str, text: str) -> Reason | None:
    """A release's reason as stored; one recorded before the codes, as its words."""
    found = reasons.from_json(coded)
    if found:
        return found[0]
    return Reason.of(ReasonCode.TEXT, text=text) if text else None


def assignment_values(a: Assignment) -> dict[str, Any]:
    return {
        "incident_id": a.incident_id,
        "unit_id": a.unit_id,
        "call_sign": a.call_sign,
        "agency": int(a.agency),
        "kind": int(a.kind),
        "role": a.role,
        "state": int(a.state),
        "eta_s": a.eta_s,
        "request_id": a.request_id,
        "actor_user": a.assigned_by.user,
        "actor_agency": int(a.assigned_by.agency),
        "actor_role": a.assigned_by.role,
        "create_time": a.create_time,
        "assign_time": a.assign_time,
        "ack_deadline": a.ack_deadline,
        "ack_time": a.ack_time,
        "release_time": a.release_time,
        "override_reason": a.override_reason,
        "release_reason": a.release_reason[:500],
        "release_pending": a.release_pending,
        "vacated": a.vacated,
        "unit_version": a.unit_version,
        "distance_m": a.distance_m,
        "eta_source": int(a.eta_source) if a.eta_source else 0,
        "release_coded": reasons.to_json([a.release]) if a.release is not None else "",
        "destination_hospital": a.destination_hospital,
    }
