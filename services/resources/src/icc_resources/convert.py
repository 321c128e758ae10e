"""Protobuf <-> domain, at the service's edge only."""

import uuid
from datetime import UTC as _UTC
from datetime import datetime

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.resource.v1 import events_pb2, resource_pb2
from icc_bus import OutgoingEvent, outgoing
from icc_resources.domain.errors import InvalidInput, Violation
from icc_resources.domain.model import (
    Actor,
    AgencyInfo,
    Capacity,
    Hospital,
    Position,
    Station,
    Unit,
    UnitStatus,
)


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def parse_name(name: str, collection: str, field: str, max_len: int = 64) -> str:
    prefix, _, rid = name.partition("/")
    if prefix != collection or not rid or len(rid) > max_len or "/" in rid:
        raise InvalidInput([Violation(field, f"must be {collection}/{{id}}, got {name[:80]!r}")])
    return rid


def position_to_proto(p: Position, stale: bool) -> resource_pb2.Position:
    return resource_pb2.Position(
        lat=p.lat,
        lon=p.lon,
        heading=p.heading,
        speed=p.speed,
        accuracy=p.accuracy,
        report_time=ts(p.report_time),
        stale=stale,
    )


def position_from_proto(p: resource_pb2.Position) -> Position:
    """Raises InvalidInput for a report time no calendar holds."""
    try:
        report_time = p.report_time.ToDatetime(tzinfo=_UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput([Violation("report.position.report_time", "not a valid time")]) from exc
    return Position(
        lat=p.lat,
        lon=p.lon,
        report_time=report_time,
        heading=p.heading,
        speed=p.speed,
        accuracy=p.accuracy,
    )


def unit_to_proto(u: Unit, position: resource_pb2.Position | None = None) -> resource_pb2.Unit:
    out = resource_pb2.Unit(
        name=u.name,
        call_sign=u.call_sign,
        agency=int(u.agency),  # type: ignore[arg-type]
        kind=int(u.kind),  # type: ignore[arg-type]
        status=int(u.status),  # type: ignore[arg-type]
        home_station=f"stations/{u.home_station}",
        capabilities=list(u.capabilities),
        crew=u.crew,
        incident=f"incidents/{u.incident_id}" if u.incident_id else "",
        status_time=ts(u.status_time),
        etag=u.etag,
    )
    if position is not None:
        out.position.CopyFrom(position)
    return out


def agency_to_proto(a: AgencyInfo) -> resource_pb2.Agency:
    return resource_pb2.Agency(
        name=f"agencies/{a.agency.name.lower()}",
        agency=int(a.agency),  # type: ignore[arg-type]
        name_vi=a.name_vi,
        name_en=a.name_en,
        emergency_number=a.emergency_number,
    )


def station_to_proto(s: Station) -> resource_pb2.Station:
    return resource_pb2.Station(
        name=f"stations/{s.id}",
        agency=int(s.agency),  # type: ignore[arg-type]
        kind=int(s.kind),  # type: ignore[arg-type]
        name_vi=s.name_vi,
        name_en=s.name_en,
        location=common_pb2.Location(lat=s.lat, lon=s.lon, ward=s.ward),
        approximate=s.approximate,
    )


def capacity_to_proto(c: Capacity) -> resource_pb2.HospitalCapacity:
    return resource_pb2.HospitalCapacity(**c.fields())


def hospital_to_proto(h: Hospital) -> resource_pb2.Hospital:
    return resource_pb2.Hospital(
        name=h.name,
        name_vi=h.name_vi,
        name_en=h.name_en,
        location=common_pb2.Location(lat=h.lat, lon=h.lon, ward=h.ward),
        capabilities=list(h.capabilities),
        total=capacity_to_proto(h.total),
        available=capacity_to_proto(h.available),
        diversion=int(h.diversion),  # type: ignore[arg-type]
        update_time=ts(h.update_time),
        etag=h.etag,
        approximate=h.approximate,
    )


def _event(
    subject: str,
    message_for: "type[Message]",
    actor: Actor,
    now: datetime,
    incident: str = "",
    units: tuple[str, ...] = (),
    **fields: object,
) -> OutgoingEvent:
    event_id = uuid.uuid4().hex
    meta = common_pb2.EventMetadata(
        event_id=event_id,
        occur_time=ts(now),
        actor=common_pb2.Actor(user=actor.user, agency=int(actor.agency), role=actor.role),  # type: ignore[arg-type]
    )
    return outgoing(
        subject, event_id, message_for(metadata=meta, **fields), incident=incident, units=units
    )


def unit_status_event(
    unit: Unit, previous: UnitStatus, reason: str, actor: Actor, now: datetime
) -> OutgoingEvent:
    return _event(
        f"icc.unit.status.{unit.id}",
        events_pb2.UnitStatusChanged,
        actor,
        now,
        incident=unit.incident_id or "",
        units=(unit.id,),
        unit=unit_to_proto(unit),
        previous_status=int(previous),
        reason=reason,
    )


def hospital_event(hospital: Hospital, actor: Actor, now: datetime) -> OutgoingEvent:
    return _event(
        "icc.hospital.capacity_changed",
        events_pb2.HospitalCapacityChanged,
        actor,
        now,
        hospital=hospital_to_proto(hospital),
    )
