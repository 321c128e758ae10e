"""The resources client: the resources service as dispatch uses it, over gRPC: the fleet,
reservations and releases."""

import time

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from icc.resource.v1 import resource_service_pb2 as pb
from icc.resource.v1 import resource_service_pb2_grpc as pb_grpc
from icc_dispatch.convert import fleet_unit, version
from icc_dispatch.domain.errors import UnitsUnavailable
from icc_dispatch.domain.hospitals import HospitalView
from icc_dispatch.domain.model import FleetUnit, Point
from icc_kernel.names import id_of, name_of
from icc_kernel.vocabulary import Diversion
from icc_rpc import open_channel

TIMEOUT_S = 5.0
# The hospital list is read again after this long: a diversion declared is heeded within
# seconds, and a burst of ambulance dispatches costs one read.
HOSPITALS_FRESH_S = 5.0


class ResourcesClient:
    def __init__(self, target: str, credentials: grpc.ChannelCredentials | None) -> None:
        # Dispatch is who its certificate says (`dispatch`): recorded in the units' history.
        self._channel = open_channel(target, credentials)
        self._stub = pb_grpc.ResourceServiceStub(self._channel)
        self.homes: dict[str, Point] = {}
        self._hospitals: list[HospitalView] = []
        self._hospitals_read = -HOSPITALS_FRESH_S

    async def close(self) -> None:
        await self._channel.close()

    async def load_stations(self) -> dict[str, Point]:
        reply = await self._stub.ListStations(pb.ListStationsRequest(), timeout=TIMEOUT_S)
        self.homes = {id_of(s.name): Point(s.location.lat, s.location.lon) for s in reply.stations}
        return self.homes

    async def hospitals(self) -> list[HospitalView]:
        now = time.monotonic()
        if now - self._hospitals_read < HOSPITALS_FRESH_S:
            return self._hospitals
        reply = await self._stub.ListHospitals(pb.ListHospitalsRequest(), timeout=TIMEOUT_S)
        self._hospitals = [
            HospitalView(
                id=id_of(h.name),
                location=Point(h.location.lat, h.location.lon),
                capabilities=frozenset(h.capabilities),
                # Unset (never, from the resources service): taken as open.
                diversion=Diversion(h.diversion) if h.diversion else Diversion.OPEN,
            )
            for h in reply.hospitals
        ]
        self._hospitals_read = now
        return self._hospitals

    async def units(self) -> list[FleetUnit]:
        out: list[FleetUnit] = []
        token = ""
        while True:
            reply = await self._stub.ListUnits(
                pb.ListUnitsRequest(page_size=5000, page_token=token),
                timeout=30,
            )
            out.extend(u for m in reply.units if (u := fleet_unit(m, self.homes)) is not None)
            token = reply.next_page_token
            if not token:
                return out

    async def unit(self, unit_id: str) -> FleetUnit | None:
        try:
            reply = await self._stub.GetUnit(
                pb.GetUnitRequest(name=name_of("units", unit_id)),
                timeout=TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return fleet_unit(reply.unit, self.homes)

    async def reserve(
        self, incident_id: str, unit_ids: list[str], request_id: str
    ) -> dict[str, int]:
        """All or nothing; the reserved units' versions, or UnitsUnavailable naming
        the units that could not be had.

        Transport errors propagate: the outcome is unknown, and repeating the call
        with the same request id settles it.
        """
        request = pb.ReserveUnitsRequest(
            incident=name_of("incidents", incident_id),
            units=[name_of("units", u) for u in unit_ids],
            request_id=request_id,
        )
        try:
            reply = await self._stub.ReserveUnits(request, timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            lost = _lost_units(exc, unit_ids)
            if lost is None:
                raise
            raise UnitsUnavailable(lost) from None
        return {id_of(u.name): version(u.etag) for u in reply.units}

    async def release(
        self, incident_id: str, unit_ids: list[str], request_id: str, reason: str
    ) -> bool:
        """True once released (or free already); False when refused: a unit is held by
        another incident, or gone (all or nothing: then none was released)."""
        request = pb.ReleaseUnitsRequest(
            incident=name_of("incidents", incident_id),
            units=[name_of("units", u) for u in unit_ids],
            request_id=request_id,
            reason=reason[:500],
        )
        try:
            await self._stub.ReleaseUnits(request, timeout=TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND):
                return False
            raise
        return True


def _lost_units(exc: grpc.aio.AioRpcError, unit_ids: list[str]) -> dict[str, str] | None:
    """Unit id -> why, for a lost reservation; None for any other error."""
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        # A unit of the request is gone from the fleet: all of them are read again.
        why = exc.details() or "not found"
        return {u: f"was refused ({why})" for u in unit_ids}
    if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
        return None
    status = rpc_status.from_call(exc)
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.reason == "UNITS_UNAVAILABLE":
                names = [n for n in info.metadata.get("units", "").split(",") if n]
                return {id_of(n): "is not available" for n in names}
    return None
