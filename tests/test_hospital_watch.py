"""WatchHospitals on the running services (real nats-server, gRPC over mutual TLS):
every hospital first, then each change as a hospital makes it, to any caller."""

import asyncio

from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from tests.conftest import City


async def test_a_partner_sees_every_hospital_then_a_diversion_as_it_is_declared(
    city: City,
) -> None:
    watch = city.resources_as("police-113").WatchHospitals(rpb.WatchHospitalsRequest(), timeout=30)
    try:
        # The headers come once the watch is subscribed: nothing declared later is missed.
        await asyncio.wait_for(watch.initial_metadata(), 10)
        first = await asyncio.wait_for(watch.read(), 10)
        assert first.snapshot and len(first.hospitals) >= 40
        choray = next(h for h in first.hospitals if h.name == "hospitals/HOSP-CHORAY")
        assert choray.diversion == resource_pb2.DIVERSION_STATUS_OPEN

        diverting = resource_pb2.Hospital()
        diverting.CopyFrom(choray)
        diverting.diversion = resource_pb2.DIVERSION_STATUS_FULL
        await city.resources_as("hospital-choray").UpdateHospitalCapacity(
            rpb.UpdateHospitalCapacityRequest(hospital=diverting), timeout=5
        )
        change = await asyncio.wait_for(watch.read(), 10)
        assert not change.snapshot
        assert [(h.name, h.diversion) for h in change.hospitals] == [
            ("hospitals/HOSP-CHORAY", resource_pb2.DIVERSION_STATUS_FULL)
        ]
        assert change.hospitals[0].etag != choray.etag
    finally:
        watch.cancel()
