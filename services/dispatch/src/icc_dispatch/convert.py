"""Protobuf <-> domain for dispatch: its own resources and events, and what it reads of others'."""

import uuid
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2, events_pb2
from icc.incident.v1 import incident_pb2
from icc.resource.v1 import resource_pb2
from icc_bus import OutgoingEvent, PoisonMessage, outgoing
from icc_dispatch.domain.model import (
    Actor,
    Agency,
    Assignment,
    FleetUnit,
    IncidentPhase,
    IncidentView,
    Point,
    Priority,
    UnitKind,
    UnitStatus,
)
from icc_dispatch.domain.plans import Need, PlanItem, ResponsePlan
from icc_dispatch.domain.ranking import Candidate, Recommendation, Shortfall

ENDED_STATES = {
    incident_pb2.INCIDENT_STATE_CLOSED,
    incident_pb2.INCIDENT_STATE_MERGED,
    incident_pb2.INCIDENT_STATE_CANCELLED,
}


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value.astimezone(UTC))
    return out


def _opt_ts(value: datetime | None) -> Timestamp | None:
    return ts(value) if value is not None else None


def version_of(etag: str) -> int:
    """`W/"7"` -> 7: both producers' etags count versions."""
    digits = etag.removeprefix("W/").strip('"')
    return int(digits) if digits.isdigit() else 0


def strip(name: str, collection: str) -> str:
    return name.removeprefix(f"{collection}/")


# What dispatch reads of other services


def incident_view(msg: incident_pb2.Incident, auto_priorities: frozenset[Priority]) -> IncidentView:
    """Raises PoisonMessage when the event cannot describe an incident."""
    incident_id = strip(msg.name, "incidents")
    if not incident_id or not msg.type_code or not msg.HasField("location"):
        raise PoisonMessage("incident event without name, type_code or location")
    if msg.priority not in (1, 2, 3, 4):
        raise PoisonMessage(f"incident event with priority {msg.priority}")
    priority = Priority(msg.priority)
    return IncidentView(
        id=incident_id,
        type_code=msg.type_code,
        priority=priority,
        location=Point(msg.location.lat, msg.location.lon),
        phase=IncidentPhase.ENDED if msg.state in ENDED_STATES else IncidentPhase.OPEN,
        create_time=msg.create_time.ToDatetime(UTC)
        if msg.HasField("create_time")
        else datetime.now(UTC),
        version=version_of(msg.etag),
        auto=priority in auto_priorities,
        exercise=msg.exercise,
    )


def fleet_unit(msg: resource_pb2.Unit, homes: dict[str, Point]) -> FleetUnit | None:
    """None for a unit whose home station is unknown (nowhere to place it)."""
    station = strip(msg.home_station, "stations")
    home = homes.get(station)
    if home is None or msg.kind == 0 or msg.agency == 0:
        return None
    position = None
    if msg.HasField("position") and not msg.position.stale:
        position = Point(msg.position.lat, msg.position.lon)
    return FleetUnit(
        id=strip(msg.name, "units"),
        call_sign=msg.call_sign,
        agency=Agency(msg.agency),
        kind=UnitKind(msg.kind),
        status=UnitStatus(msg.status),
        home_station=station,
        home=home,
        incident_id=strip(msg.incident, "incidents") or None,
        position=position,
        version=version_of(msg.etag),
    )


# Dispatch's own resources


def actor_to_proto(a: Actor) -> common_pb2.Actor:
    return common_pb2.Actor(user=a.user, agency=int(a.agency), role=a.role)  # type: ignore[arg-type]


def plan_item_to_proto(i: PlanItem) -> dispatch_pb2.PlanItem:
    return dispatch_pb2.PlanItem(
        role=i.role,
        agency=int(i.agency),  # type: ignore[arg-type]
        kinds=[int(k) for k in i.kinds],  # type: ignore[misc]
        count=i.count,
        first=i.first,
        label_vi=i.label_vi,
        label_en=i.label_en,
    )


def plan_to_proto(p: ResponsePlan) -> dispatch_pb2.ResponsePlan:
    return dispatch_pb2.ResponsePlan(
        type_code=p.type_code,
        priority=int(p.priority),  # type: ignore[arg-type]
        items=[plan_item_to_proto(i) for i in p.items],
        variant=p.variant,
    )


def candidate_to_proto(c: Candidate) -> dispatch_pb2.Candidate:
    u = c.unit
    return dispatch_pb2.Candidate(
        unit=f"units/{u.id}",
        call_sign=u.call_sign,
        agency=int(u.agency),  # type: ignore[arg-type]
        kind=int(u.kind),  # type: ignore[arg-type]
        role=c.role,
        eta_seconds=c.eta.seconds,
        distance_meters=c.eta.meters,
        rank=c.rank,
        reasons=list(c.reasons),
        home_station=f"stations/{u.home_station}",
        coverage_left=c.coverage_left,
        mutual_aid=c.mutual_aid,
        selected=c.selected,
    )


def shortfall_to_proto(s: Shortfall) -> dispatch_pb2.Shortfall:
    return dispatch_pb2.Shortfall(
        role=s.role,
        agency=int(s.agency),  # type: ignore[arg-type]
        missing=s.missing,
        reason=s.reason,
    )


def need_to_shortfall(n: Need, reason: str) -> Shortfall:
    return Shortfall(n.item.role, n.item.agency, n.missing, reason)


def recommendation_to_proto(r: Recommendation) -> dispatch_pb2.Recommendation:
    return dispatch_pb2.Recommendation(
        incident=f"incidents/{r.incident_id}",
        plan=plan_to_proto(r.plan),
        candidates=[candidate_to_proto(c) for c in r.candidates],
        shortfalls=[shortfall_to_proto(s) for s in r.shortfalls],
        eta_source=r.eta_source,
        create_time=ts(r.create_time),
    )


def assignment_to_proto(a: Assignment) -> dispatch_pb2.Assignment:
    return dispatch_pb2.Assignment(
        name=a.name,
        incident=f"incidents/{a.incident_id}",
        unit=f"units/{a.unit_id}",
        call_sign=a.call_sign,
        agency=int(a.agency),  # type: ignore[arg-type]
        kind=int(a.kind),  # type: ignore[arg-type]
        role=a.role,
        state=int(a.state),  # type: ignore[arg-type]
        eta_seconds=a.eta_s,
        assign_time=_opt_ts(a.assign_time),
        acknowledge_deadline=_opt_ts(a.ack_deadline),
        acknowledge_time=_opt_ts(a.ack_time),
        release_time=_opt_ts(a.release_time),
        override=a.override,
        override_reason=a.override_reason,
        release_reason=a.release_reason,
        assigned_by=actor_to_proto(a.assigned_by),
    )


# Events


def _meta(actor: Actor, now: datetime) -> tuple[str, common_pb2.EventMetadata]:
    event_id = uuid.uuid4().hex
    return event_id, common_pb2.EventMetadata(
        event_id=event_id, occur_time=ts(now), actor=actor_to_proto(actor)
    )


def recommended_event(
    r: Recommendation, priority: Priority, actor: Actor, now: datetime
) -> OutgoingEvent:
    event_id, meta = _meta(actor, now)
    msg = events_pb2.UnitsRecommended(
        metadata=meta,
        recommendation=recommendation_to_proto(r),
        priority=int(priority),  # type: ignore[arg-type]
    )
    return outgoing("icc.dispatch.recommended", event_id, msg, incident=r.incident_id)


def assigned_event(
    incident_id: str,
    priority: Priority,
    items: list[Assignment],
    automatic: bool,
    actor: Actor,
    now: datetime,
) -> OutgoingEvent:
    event_id, meta = _meta(actor, now)
    msg = events_pb2.UnitsAssigned(
        metadata=meta,
        incident=f"incidents/{incident_id}",
        priority=int(priority),  # type: ignore[arg-type]
        assignments=[assignment_to_proto(a) for a in items],
        automatic=automatic,
    )
    return outgoing(
        "icc.dispatch.assigned",
        event_id,
        msg,
        incident=incident_id,
        units=[a.unit_id for a in items],
    )


def acknowledged_event(a: Assignment, actor: Actor, now: datetime) -> OutgoingEvent:
    event_id, meta = _meta(actor, now)
    msg = events_pb2.AssignmentAcknowledged(metadata=meta, assignment=assignment_to_proto(a))
    return outgoing(
        "icc.dispatch.acknowledged", event_id, msg, incident=a.incident_id, units=[a.unit_id]
    )


def escalated_event(a: Assignment, reason: str, actor: Actor, now: datetime) -> OutgoingEvent:
    event_id, meta = _meta(actor, now)
    msg = events_pb2.AssignmentEscalated(
        metadata=meta, assignment=assignment_to_proto(a), reason=reason
    )
    return outgoing(
        "icc.dispatch.escalated", event_id, msg, incident=a.incident_id, units=[a.unit_id]
    )


def released_event(
    incident_id: str, items: list[Assignment], reason: str, actor: Actor, now: datetime
) -> OutgoingEvent:
    event_id, meta = _meta(actor, now)
    msg = events_pb2.UnitsReleased(
        metadata=meta,
        incident=f"incidents/{incident_id}",
        assignments=[assignment_to_proto(a) for a in items],
        reason=reason,
    )
    return outgoing(
        "icc.dispatch.released",
        event_id,
        msg,
        incident=incident_id,
        units=[a.unit_id for a in items],
    )
