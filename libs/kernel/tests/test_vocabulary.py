"""The kernel's enums carry the contract's numbers and names."""

from enum import IntEnum

import pytest

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.resource.v1 import resource_pb2
from icc_kernel import reasons
from icc_kernel import vocabulary as v

CASES = [
    (v.Agency, common_pb2.Agency, "AGENCY_"),
    (v.Priority, common_pb2.Priority, "PRIORITY_"),
    (v.AssignmentState, common_pb2.AssignmentState, "ASSIGNMENT_STATE_"),
    (v.IncidentState, incident_pb2.IncidentState, "INCIDENT_STATE_"),
    (v.CallLine, incident_pb2.CallLine, "CALL_LINE_"),
    (v.DuplicateReason, incident_pb2.DuplicateReason, "DUPLICATE_REASON_"),
    (v.CautionKind, incident_pb2.CautionKind, "CAUTION_KIND_"),
    (v.PlaceKind, incident_pb2.PlaceKind, "PLACE_KIND_"),
    (v.UnitKind, resource_pb2.UnitKind, "UNIT_KIND_"),
    (v.UnitStatus, resource_pb2.UnitStatus, "UNIT_STATUS_"),
    (v.StationKind, resource_pb2.StationKind, "STATION_KIND_"),
    (v.Diversion, resource_pb2.DiversionStatus, "DIVERSION_STATUS_"),
    (v.EtaSource, common_pb2.EtaSource, "ETA_SOURCE_"),
    (reasons.ReasonCode, common_pb2.ReasonCode, "REASON_CODE_"),
]


@pytest.mark.parametrize(
    ("enum", "proto", "prefix"), CASES, ids=lambda c: getattr(c, "__name__", "")
)
def test_each_value_is_the_protos_number_under_the_same_name(
    enum: type[IntEnum], proto: object, prefix: str
) -> None:
    descriptor = proto.DESCRIPTOR  # type: ignore[attr-defined]
    contract = {value.name: value.number for value in descriptor.values if value.number != 0}
    ours = {prefix + member.name: member.value for member in enum}
    assert ours == contract
