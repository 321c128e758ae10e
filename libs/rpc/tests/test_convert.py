"""The edge conversions: times, enums, pages, who and when."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_service_pb2
from icc_kernel.actors import Actor
from icc_kernel.errors import InvalidInput, Violation
from icc_kernel.vocabulary import Agency, UnitStatus
from icc_rpc import convert as c


def test_times_go_out_and_come_back_in_utc() -> None:
    saigon = timezone(timedelta(hours=7))
    when = datetime(2026, 12, 1, 9, 30, 15, 250_000, tzinfo=saigon)
    back = c.to_datetime(c.timestamp(when), "t")
    assert back == when
    assert back.tzinfo == UTC
    assert c.timestamp_or_none(None) is None


def test_an_impossible_time_names_its_field() -> None:
    beyond = Timestamp(seconds=10**13)
    with pytest.raises(InvalidInput) as err:
        c.to_datetime(beyond, "report.position.report_time")
    assert err.value.violations == [Violation("report.position.report_time", "not a valid time")]


def test_an_optional_time_is_none_when_unset_and_a_violation_when_impossible() -> None:
    request = incident_service_pb2.ListIncidentsRequest()
    out: list[Violation] = []
    assert c.optional_time(request.create_time, "start_time", "create_time.start_time", out) is None
    request.create_time.start_time.seconds = 10**13
    assert c.optional_time(request.create_time, "start_time", "create_time.start_time", out) is None
    assert [v.field for v in out] == ["create_time.start_time"]
    request.create_time.start_time.seconds = 0
    assert c.optional_time(request.create_time, "start_time", "x", out) == datetime(
        1970, 1, 1, tzinfo=UTC
    )


def test_enums_cross_the_edge_by_number() -> None:
    actor = common_pb2.Actor(agency=c.AGENCY.to_proto(Agency.FIRE))
    assert actor.agency == common_pb2.AGENCY_FIRE
    assert c.UNIT_STATUS.to_protos([UnitStatus.AVAILABLE, UnitStatus.ON_SCENE]) == [1, 4]
    out: list[Violation] = []
    assert c.AGENCY.from_proto(common_pb2.AGENCY_MEDICAL, "agency", out) is Agency.MEDICAL
    assert c.AGENCY.from_proto(0, "agency", out) is None
    assert out == []


def test_unknown_and_missing_enum_numbers_name_their_fields() -> None:
    out: list[Violation] = []
    assert c.AGENCY.from_proto(42, "agency", out) is None
    assert c.UNIT_STATUS.required(0, "status", out) is None
    assert c.UNIT_STATUS.from_protos([1, 0, 99], "statuses", out) == [UnitStatus.AVAILABLE]
    assert [v.field for v in out] == ["agency", "status", "statuses[1]", "statuses[2]"]
    assert out[0].description.startswith("unknown agency 42; one of POLICE, FIRE")
    assert "unknown unit status 99" in out[3].description


def test_page_size() -> None:
    out: list[Violation] = []
    assert c.page_size(0, default=50, most=500, out=out) == 50
    assert c.page_size(10_000, default=50, most=500, out=out) == 500
    assert out == []
    c.page_size(-1, default=50, most=500, out=out)
    assert [v.field for v in out] == ["page_size"]


def test_event_metadata_says_who_and_when() -> None:
    when = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    meta = c.event_metadata("e1", when, Actor("an", Agency.POLICE, "dispatcher"))
    assert meta.event_id == "e1"
    assert meta.occur_time.ToDatetime(tzinfo=UTC) == when
    assert (meta.actor.user, meta.actor.agency, meta.actor.role) == (
        "an",
        common_pb2.AGENCY_POLICE,
        "dispatcher",
    )
