"""Protobuf <-> domain for the resources service, at its edge only (generic conversions:
`icc_rpc.convert`)."""

from icc.common.v1 import common_pb2
from icc.resource.v1 import resource_pb2
from icc_kernel.names import name_of
from icc_resources.domain.model import AgencyInfo, Capacity, Hospital, Position, Station, Unit
from icc_rpc.convert import (
    AGENCY,
    DIVERSION,
    STATION_KIND,
    UNIT_KIND,
    UNIT_STATUS,
    timestamp,
    to_datetime,
)


def position_to_proto(p: Position, stale: bool) -> resource_pb2.Position:
    return resource_pb2.Position(
        lat=p.lat,
        lon=p.lon,
        heading=p.heading,
        speed=p.speed,
        accuracy=p.accuracy,
        report_time=timestamp(p.report_time),
        stale=stale,
    )


def position_from_proto(p: resource_pb2.Position) -> Position:
    """Raises InvalidInput for a report time no calendar holds."""
    return Position(
        lat=p.lat,
        lon=p.lon,
        report_time=to_datetime(p.report_time, "report.position.report_time"),
        heading=p.heading,
        speed=p.speed,
        accuracy=p.accuracy,
    )


def unit_to_proto(u: Unit) -> resource_pb2.Unit:
    return resource_pb2.Unit(
        name=u.name,
        call_sign=u.call_sign,
        agency=AGENCY.to_proto(u.agency),
        kind=UNIT_KIND.to_proto(u.kind),
        status=UNIT_STATUS.to_proto(u.status),
        home_station=name_of("stations", u.home_station),
        capabilities=list(u.capabilities),
        crew=u.crew,
        incident=name_of("incidents", u.incident_id) if u.incident_id else "",
        status_time=timestamp(u.status_time),
        etag=u.etag,
    )


def agency_to_proto(a: AgencyInfo) -> resource_pb2.Agency:
    return resource_pb2.Agency(
        name=name_of("agencies", a.agency.name.lower()),
        agency=AGENCY.to_proto(a.agency),
        name_vi=a.name_vi,
        name_en=a.name_en,
        emergency_number=a.emergency_number,
    )


def station_to_proto(s: Station) -> resource_pb2.Station:
    return resource_pb2.Station(
        name=name_of("stations", s.id),
        agency=AGENCY.to_proto(s.agency),
        kind=STATION_KIND.to_proto(s.kind),
        name_vi=s.name_vi,
        name_en=s.name_en,
        location=common_pb2.Location(lat=s.lat, lon=s.lon, ward=s.ward),
        approximate=s.approximate,
    )


def capacity_to_proto(c: Capacity) -> resource_pb2.HospitalCapacity:
    return resource_pb2.HospitalCapacity(**c.fields())


def capacity_from_proto(c: resource_pb2.HospitalCapacity) -> Capacity:
    return Capacity(c.emergency_beds, c.icu, c.burn, c.trauma, c.pediatric)


def hospital_to_proto(h: Hospital) -> resource_pb2.Hospital:
    return resource_pb2.Hospital(
        name=h.name,
        name_vi=h.name_vi,
        name_en=h.name_en,
        location=common_pb2.Location(lat=h.lat, lon=h.lon, ward=h.ward),
        capabilities=list(h.capabilities),
        total=capacity_to_proto(h.total),
        available=capacity_to_proto(h.available),
        diversion=DIVERSION.to_proto(h.diversion),
        update_time=timestamp(h.update_time),
        etag=h.etag,
        approximate=h.approximate,
    )
