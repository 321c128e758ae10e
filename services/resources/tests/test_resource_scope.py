"""What each caller may see and change of the units and hospitals, on SQLite and
PostgreSQL: an agency its own units, a device its own unit, a hospital its own capacity,
only dispatch reserves; everyone reads the hospitals."""

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.resource.v1 import events_pb2, resource_pb2
from icc.resource.v1 import resource_service_pb2 as pb
from icc_pki.local import EXAMPLE_HOSPITAL, EXAMPLE_UNIT

from .conftest import Service

T = 5
DENIED = grpc.StatusCode.PERMISSION_DENIED


def report(unit: str) -> pb.ReportPositionRequest:
    now = Timestamp()
    now.GetCurrentTime()
    return pb.ReportPositionRequest(
        report=events_pb2.UnitPositionReported(
            unit=unit, position=resource_pb2.Position(lat=10.78, lon=106.70, report_time=now)
        )
    )


async def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call  # type: ignore[misc]
    return err.value.code()


async def units_of(service: Service, agency: int) -> list[resource_pb2.Unit]:
    reply = await service.stub.ListUnits(
        pb.ListUnitsRequest(page_size=5000, agency=agency),  # type: ignore[arg-type]
        timeout=T,
    )
    return list(reply.units)


async def test_an_agency_sees_and_changes_only_its_own_units(service: Service) -> None:
    fire = service.as_("fire-114")
    listed = (await fire.ListUnits(pb.ListUnitsRequest(page_size=5000), timeout=T)).units
    assert listed and {u.agency for u in listed} == {common_pb2.AGENCY_FIRE}
    other = pb.ListUnitsRequest(agency=common_pb2.AGENCY_POLICE)
    assert await code_of(fire.ListUnits(other, timeout=T)) == DENIED
    police_unit = (await units_of(service, common_pb2.AGENCY_POLICE))[0].name
    assert await code_of(fire.GetUnit(pb.GetUnitRequest(name=police_unit), timeout=T)) == DENIED
    out = resource_pb2.UNIT_STATUS_OUT_OF_SERVICE
    request = pb.UpdateUnitStatusRequest(name=police_unit, status=out)
    assert await code_of(fire.UpdateUnitStatus(request, timeout=T)) == DENIED
    changed = await fire.UpdateUnitStatus(
        pb.UpdateUnitStatusRequest(name=listed[0].name, status=out), timeout=T
    )
    assert changed.unit.status == out
    # Only dispatch reserves, whatever the agency.
    reserve = pb.ReserveUnitsRequest(incident="incidents/x1", units=[listed[1].name])
    assert await code_of(fire.ReserveUnits(reserve, timeout=T)) == DENIED
    assert await code_of(service.stub.ReserveUnits(reserve, timeout=T)) == DENIED
    assert (await service.as_("dispatch").ReserveUnits(reserve, timeout=T)).units


async def test_a_device_reports_and_changes_only_its_own_unit(service: Service) -> None:
    device = service.as_("device-ambulance")
    own = f"units/{EXAMPLE_UNIT}"
    other = next(
        u.name for u in await units_of(service, common_pb2.AGENCY_MEDICAL) if u.name != own
    )
    assert (await device.ReportPosition(report(own), timeout=T)).accepted
    assert await code_of(device.ReportPosition(report(other), timeout=T)) == DENIED
    stream = device.ReportPositions(iter([report(own), report(other)]), timeout=T)
    assert await code_of(stream) == DENIED
    assert (await device.GetUnit(pb.GetUnitRequest(name=own), timeout=T)).unit.name == own
    assert await code_of(device.GetUnit(pb.GetUnitRequest(name=other), timeout=T)) == DENIED
    en_route = resource_pb2.UNIT_STATUS_OUT_OF_SERVICE
    request = pb.UpdateUnitStatusRequest(name=other, status=en_route)
    assert await code_of(device.UpdateUnitStatus(request, timeout=T)) == DENIED
    assert await code_of(device.ListUnits(pb.ListUnitsRequest(), timeout=T)) == DENIED


async def test_a_hospital_updates_only_its_own_capacity_and_everyone_reads_them(
    service: Service,
) -> None:
    hospital = service.as_("hospital-choray")
    everyone = (await hospital.ListHospitals(pb.ListHospitalsRequest(), timeout=T)).hospitals
    assert len(everyone) >= 30
    viewer = service.as_("police-viewer")
    assert (await viewer.ListHospitals(pb.ListHospitalsRequest(), timeout=T)).hospitals
    own = next(h for h in everyone if h.name == f"hospitals/{EXAMPLE_HOSPITAL}")
    other = next(h for h in everyone if h.name != own.name)
    own.available.emergency_beds = 3
    updated = await hospital.UpdateHospitalCapacity(
        pb.UpdateHospitalCapacityRequest(hospital=own), timeout=T
    )
    assert updated.hospital.available.emergency_beds == 3
    request = pb.UpdateHospitalCapacityRequest(hospital=other)
    assert await code_of(hospital.UpdateHospitalCapacity(request, timeout=T)) == DENIED
    assert await code_of(viewer.UpdateHospitalCapacity(request, timeout=T)) == DENIED
