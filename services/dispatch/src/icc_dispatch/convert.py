"""Protobuf <-> domain for dispatch: what it reads of other services' messages, and its own
resources as the contract has them (its events: `outbox_events`)."""

from datetime import UTC, datetime

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2, dispatch_service_pb2
from icc.incident.v1 import incident_pb2
from icc.resource.v1 import resource_pb2
from icc_bus import PoisonMessage
from icc_dispatch.domain.model import (
    Actor,
    Agency,
    Assignment,
    Caution,
    CautionKind,
    EtaSource,
    FleetUnit,
    IncidentPhase,
    IncidentView,
    Point,
    Priority,
)
from icc_dispatch.domain.plans import PlanItem, ResponsePlan
from icc_dispatch.domain.ranking import Candidate, Recommendation, Shortfall
from icc_dispatch.use_cases.queries import Ranked, Status
from icc_kernel.errors import Violation
from icc_kernel.etags import version_of
from icc_kernel.names import id_of, name_of
from icc_rpc.convert import (
    AGENCY,
    ASSIGNMENT_STATE,
    CAUTION_KIND,
    ETA_SOURCE,
    INCIDENT_STATE,
    PRIORITY,
    UNIT_KIND,
    UNIT_STATUS,
    actor_to_proto,
    add_reasons,
    optional_time,
    reason_to_proto,
    timestamp,
    timestamp_or_none,
    to_datetime,
)

# `EtaSource` as the deprecated text field `Recommendation.eta_source` wrote it.
ETA_SOURCE_TEXT = {
    EtaSource.TRAVEL_MODEL: "travel-model",
    EtaSource.ROUTING_ENGINE: "osrm",
    EtaSource.TRAVEL_MODEL_FALLBACK: "travel-model (osrm unavailable)",
}


def version(etag: str) -> int:
    """The version an etag names (both producers' etags count versions); 0 for none."""
    return version_of(etag) or 0


# What dispatch reads of other services


def incident_view(msg: incident_pb2.Incident, auto_priorities: frozenset[Priority]) -> IncidentView:
    """Raises PoisonMessage when the event cannot describe an incident."""
    incident_id = id_of(msg.name)
    if not incident_id or not msg.type_code or not msg.HasField("location"):
        raise PoisonMessage("incident event without name, type_code or location")
    bad: list[Violation] = []
    priority = PRIORITY.required(msg.priority, "priority", bad)
    if priority is None:
        raise PoisonMessage(f"incident event with priority {msg.priority}")
    state = INCIDENT_STATE.from_proto(msg.state, "state", bad)
    return IncidentView(
        id=incident_id,
        type_code=msg.type_code,
        priority=priority,
        location=Point(msg.location.lat, msg.location.lon),
        phase=IncidentPhase.ENDED if state is not None and state.terminal else IncidentPhase.OPEN,
        create_time=to_datetime(msg.create_time, "create_time")
        if msg.HasField("create_time")
        else datetime.now(UTC),
        version=version(msg.etag),
        auto=priority in auto_priorities,
        exercise=msg.exercise,
        cautions=tuple(caution_from_proto(c) for c in msg.cautions) if msg.cautions else (),
    )


def caution_from_proto(c: incident_pb2.Caution) -> Caution:
    """As the incident's event carries it; what dispatch cannot read (a kind of a newer
    version, an impossible time) is passed on as OTHER and unset."""
    kind = CAUTION_KIND.from_proto(c.kind, "kind", []) or CautionKind.OTHER
    by = c.created_by
    agency = AGENCY.from_proto(by.agency, "created_by.agency", []) or Agency.COMMAND_CENTER
    return Caution(
        name=c.name,
        kind=kind,
        text=c.text,
        point=Point(c.location.lat, c.location.lon),
        address=c.location.address,
        ward=c.location.ward,
        radius_m=c.radius_m,
        valid_until=optional_time(c, "valid_until", "valid_until", []),
        created_by=Actor(by.user, agency, by.role),
        create_time=optional_time(c, "create_time", "create_time", []),
    )


def caution_to_proto(c: Caution) -> incident_pb2.Caution:
    return incident_pb2.Caution(
        name=c.name,
        kind=CAUTION_KIND.to_proto(c.kind),
        text=c.text,
        location=common_pb2.Location(
            lat=c.point.lat, lon=c.point.lon, address=c.address, ward=c.ward
        ),
        radius_m=c.radius_m,
        valid_until=timestamp_or_none(c.valid_until),
        created_by=actor_to_proto(c.created_by),
        create_time=timestamp_or_none(c.create_time),
    )


def fleet_unit(msg: resource_pb2.Unit, homes: dict[str, Point]) -> FleetUnit | None:
    """None for a unit dispatch cannot place or plan with: its home station unknown, or
    its agency, kind or status not given (or not known to this version)."""
    station = id_of(msg.home_station)
    home = homes.get(station)
    bad: list[Violation] = []
    agency = AGENCY.from_proto(msg.agency, "agency", bad)
    kind = UNIT_KIND.from_proto(msg.kind, "kind", bad)
    status = UNIT_STATUS.from_proto(msg.status, "status", bad)
    if home is None or agency is None or kind is None or status is None:
        return None
    position = None
    if msg.HasField("position") and not msg.position.stale:
        position = Point(msg.position.lat, msg.position.lon)
    return FleetUnit(
        id=id_of(msg.name),
        call_sign=msg.call_sign,
        agency=agency,
        kind=kind,
        status=status,
        home_station=station,
        home=home,
        incident_id=id_of(msg.incident) or None,
        position=position,
        version=version(msg.etag),
    )


# Dispatch's own resources


def plan_item_to_proto(i: PlanItem) -> dispatch_pb2.PlanItem:
    return dispatch_pb2.PlanItem(
        role=i.role,
        agency=AGENCY.to_proto(i.agency),
        kinds=UNIT_KIND.to_protos(i.kinds),
        count=i.count,
        first=i.first,
        label_vi=i.label_vi,
        label_en=i.label_en,
    )


def plan_to_proto(p: ResponsePlan) -> dispatch_pb2.ResponsePlan:
    return dispatch_pb2.ResponsePlan(
        type_code=p.type_code,
        priority=PRIORITY.to_proto(p.priority),
        items=[plan_item_to_proto(i) for i in p.items],
        variant=p.variant,
    )


def candidate_to_proto(c: Candidate, *, english: bool = True) -> dispatch_pb2.Candidate:
    """`english`: also the deprecated English `reasons` (not for new RPCs)."""
    u = c.unit
    reasons = c.reasons
    out = dispatch_pb2.Candidate(
        unit=name_of("units", u.id),
        call_sign=u.call_sign,
        agency=AGENCY.to_proto(u.agency),
        kind=UNIT_KIND.to_proto(u.kind),
        role=c.role,
        eta_seconds=c.eta.seconds,
        distance_meters=c.eta.meters,
        rank=c.rank,
        reasons=[r.english for r in reasons] if english else [],
        home_station=name_of("stations", u.home_station),
        coverage_left=c.coverage_left,
        mutual_aid=c.mutual_aid,
        selected=c.selected,
        beyond_mutual_aid_eta=c.far,
    )
    add_reasons(out.coded_reasons, reasons)
    return out


def shortfall_to_proto(s: Shortfall) -> dispatch_pb2.Shortfall:
    return dispatch_pb2.Shortfall(
        role=s.role,
        agency=AGENCY.to_proto(s.agency),
        missing=s.missing,
        reason=s.reason.english,
        coded_reason=reason_to_proto(s.reason),
    )


def recommendation_to_proto(r: Recommendation) -> dispatch_pb2.Recommendation:
    return dispatch_pb2.Recommendation(
        incident=name_of("incidents", r.incident_id),
        plan=plan_to_proto(r.plan),
        candidates=[candidate_to_proto(c) for c in r.candidates],
        shortfalls=[shortfall_to_proto(s) for s in r.shortfalls],
        eta_source=ETA_SOURCE_TEXT[r.eta_source],
        create_time=timestamp(r.create_time),
        eta_source_code=ETA_SOURCE.to_proto(r.eta_source),
        mutual_aid_eta_seconds=r.mutual_aid_eta_s,
    )


def ranked_to_proto(r: Ranked) -> dispatch_service_pb2.RankAvailableUnitsResponse:
    return dispatch_service_pb2.RankAvailableUnitsResponse(
        candidates=[candidate_to_proto(c, english=False) for c in r.candidates],
        eta_source_code=ETA_SOURCE.to_proto(r.eta_source),
        mutual_aid_eta_seconds=r.mutual_aid_eta_s,
    )


def assignment_to_proto(a: Assignment) -> dispatch_pb2.Assignment:
    return dispatch_pb2.Assignment(
        name=a.name,
        incident=name_of("incidents", a.incident_id),
        unit=name_of("units", a.unit_id),
        call_sign=a.call_sign,
        agency=AGENCY.to_proto(a.agency),
        kind=UNIT_KIND.to_proto(a.kind),
        role=a.role,
        state=ASSIGNMENT_STATE.to_proto(a.state),
        eta_seconds=a.eta_s,
        assign_time=timestamp_or_none(a.assign_time),
        acknowledge_deadline=timestamp_or_none(a.ack_deadline),
        acknowledge_time=timestamp_or_none(a.ack_time),
        release_time=timestamp_or_none(a.release_time),
        override=a.override,
        override_reason=a.override_reason,
        release_reason=a.release_reason,
        assigned_by=actor_to_proto(a.assigned_by),
        distance_meters=a.distance_m,
        eta_source_code=ETA_SOURCE.to_proto(a.eta_source)
        if a.eta_source
        else common_pb2.ETA_SOURCE_UNSPECIFIED,
        coded_release_reason=reason_to_proto(a.release),
        destination_hospital=name_of("hospitals", a.destination_hospital)
        if a.destination_hospital
        else "",
    )


def status_to_proto(s: Status) -> dispatch_pb2.DispatchStatus:
    if s.ended:
        state = dispatch_pb2.DISPATCH_STATE_ENDED
    elif not s.needs and not s.reserving:
        state = dispatch_pb2.DISPATCH_STATE_COMPLETE
    elif s.incident.auto:
        state = dispatch_pb2.DISPATCH_STATE_QUEUED
    else:
        state = dispatch_pb2.DISPATCH_STATE_AWAITING_DISPATCHER
    since = s.awaiting_since
    return dispatch_pb2.DispatchStatus(
        incident=s.incident.name,
        type_code=s.incident.type_code,
        priority=PRIORITY.to_proto(s.incident.priority),
        state=state,
        auto_dispatch=s.incident.auto,
        plan=plan_to_proto(s.plan),
        assignments=[assignment_to_proto(a) for a in s.assignments],
        shortfalls=[shortfall_to_proto(x) for x in s.shortfalls],
        awaiting_decision=since is not None,
        awaiting_since=timestamp_or_none(since),
        cautions=[caution_to_proto(c) for c in s.incident.cautions],
    )
