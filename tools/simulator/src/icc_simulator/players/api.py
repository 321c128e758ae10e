"""The simulator's side of ICC's public API: where the services are, gRPC stubs over
mutual TLS (the `simulator` identity of `endpoints.json`) with deadlines, and protobuf <->
simulator types (only here)."""

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_service_pb2 as dpb
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc.resource.v1 import resource_service_pb2_grpc as resource_grpc
from icc_city.geo import Point
from icc_kernel.vocabulary import Agency, Priority, UnitKind, UnitStatus
from icc_rpc import TlsConfig, open_channel
from icc_simulator.world.behaviour import HospitalView
from icc_simulator.world.model import Catalog, IncidentKind

# Who the simulator is: its certificate's name, which the services record as
# `created_by.user`, so its incidents can be told from people's and a restarted
# simulator finds its own.
SIM_USER = "simulator"
# Deadline of one call; the services answer in milliseconds when healthy.
TIMEOUT_S = 10.0
# Statuses worth a retry: the service is restarting or overloaded for a moment.
TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)

Metadata = tuple[tuple[str, str], ...]
T = TypeVar("T")


def as_who(role: str, agency: Agency = Agency.COMMAND_CENTER, user: str = SIM_USER) -> Metadata:
    """The simulated actor (a call-taker, a dispatcher, a unit) as metadata: a label for
    reading calls in traces only; the services decide by the certificate and ignore it."""
    return (("icc-user", user), ("icc-agency", agency.name), ("icc-role", role))


CALL_TAKER = as_who("call-taker")
DISPATCHER = as_who("dispatcher")


def code_of(exc: BaseException) -> grpc.StatusCode | None:
    if isinstance(exc, grpc.aio.AioRpcError):
        return exc.code()
    return None


async def with_retries(
    call: Callable[[], Awaitable[T]], *, attempts: int = 4, first_delay_s: float = 0.2
) -> T:
    """`call()` again after a transient failure (with backoff); other errors at once.
    Only for calls that are safe to repeat (reads, idempotent writes)."""
    delay = first_delay_s
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in TRANSIENT or attempt == attempts:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Endpoints:
    nats_url: str
    incidents: str
    resources: str
    dispatch: str
    otlp: str | None = None
    # The simulator's certificate (ICC_TLS_*, else the `simulator` identity of the file).
    tls: TlsConfig | None = None
    # Its bus user (ICC_NATS_USER/ICC_NATS_PASSWORD, else the `simulator` user of the
    # passwords file `icc run` names in endpoints.json), None for a bus without users.
    nats_user: str | None = None
    nats_password: str | None = None

    @classmethod
    def from_file(cls, path: Path, identity: str = "simulator") -> "Endpoints":
        """`var/endpoints.json` as `icc run` writes it."""
        data = json.loads(path.read_text(encoding="utf-8"))
        section = data.get("tls") or {}
        mine = section.get("identities", {}).get(identity)
        tls = (
            TlsConfig(Path(section["ca"]), Path(mine["cert"]), Path(mine["key"])) if mine else None
        )
        password = None
        passwords = data.get("nats_passwords")
        if passwords and Path(passwords).exists():
            password = json.loads(Path(passwords).read_text(encoding="utf-8")).get(
                "SIMULATOR_NATS_PASSWORD"
            )
        return cls(
            nats_url=data["nats"],
            incidents=data["incidents_grpc"],
            resources=data["resources_grpc"],
            dispatch=data["dispatch_grpc"],
            otlp=data.get("trace_sink_otlp"),
            tls=tls,
            nats_user=SIM_USER if password else None,
            nats_password=password,
        )

    def credentials(self) -> grpc.ChannelCredentials | None:
        return self.tls.channel_credentials() if self.tls else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Endpoints":
        """`ICC_*` variables; the endpoints file of `icc run` fills what they leave out."""
        path = Path(env.get("ICC_VAR_DIR", "var")) / "endpoints.json"
        base = (
            cls.from_file(path)
            if path.exists()
            else cls(
                "nats://127.0.0.1:14222", "127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"
            )
        )
        return cls(
            nats_url=env.get("ICC_NATS_URL", base.nats_url),
            incidents=env.get("ICC_INCIDENTS_TARGET", base.incidents),
            resources=env.get("ICC_RESOURCES_TARGET", base.resources),
            dispatch=env.get("ICC_DISPATCH_TARGET", base.dispatch),
            otlp=env.get("ICC_OTLP_ENDPOINT", base.otlp or "") or None,
            tls=TlsConfig.from_env("simulator", env) if "ICC_TLS_CERT" in env else base.tls,
            nats_user=env.get("ICC_NATS_USER") or base.nats_user,
            nats_password=env.get("ICC_NATS_PASSWORD") or base.nats_password,
        )


class Clients:
    """One channel per service, shared by everything the simulator does."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        credentials = endpoints.credentials()
        self._channels = [
            open_channel(endpoints.incidents, credentials),
            open_channel(endpoints.resources, credentials),
            open_channel(endpoints.dispatch, credentials),
        ]
        self.incidents: incident_grpc.IncidentServiceAsyncStub = incident_grpc.IncidentServiceStub(
            self._channels[0]
        )
        self.resources: resource_grpc.ResourceServiceAsyncStub = resource_grpc.ResourceServiceStub(
            self._channels[1]
        )
        self.dispatch: dispatch_grpc.DispatchServiceAsyncStub = dispatch_grpc.DispatchServiceStub(
            self._channels[2]
        )

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until every service answers (they may still be starting)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                await self.incidents.ListIncidentTypes(ipb.ListIncidentTypesRequest(), timeout=2)
                await self.resources.ListAgencies(rpb.ListAgenciesRequest(), timeout=2)
                await self.dispatch.GetResponsePlan(
                    dpb.GetResponsePlanRequest(
                        type_code="MEDICAL.SICK_PERSON", priority=common_pb2.PRIORITY_P3, hour=-1
                    ),
                    timeout=2,
                    metadata=DISPATCHER,
                )
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in TRANSIENT:
                    raise RuntimeError(
                        f"ICC services answer {exc.code().name}: {exc.details()}"
                    ) from exc
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(
                        f"ICC services not answering ({exc.code().name}): is `icc run` up? "
                        f"incidents {self.endpoints.incidents}, resources "
                        f"{self.endpoints.resources}, dispatch {self.endpoints.dispatch}"
                    ) from exc
                await asyncio.sleep(0.5)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


# Reads and conversions


@dataclass(frozen=True)
class UnitView:
    name: str
    call_sign: str
    agency: Agency
    kind: UnitKind
    status: UnitStatus
    position: Point | None
    home_station: str
    incident: str
    status_time: float


def unit_view(u: resource_pb2.Unit) -> UnitView:
    has_position = u.HasField("position") and (u.position.lat or u.position.lon)
    return UnitView(
        name=u.name,
        call_sign=u.call_sign,
        agency=Agency(u.agency) if u.agency else Agency.COMMAND_CENTER,
        kind=UnitKind(u.kind) if u.kind else UnitKind.PATROL_CAR,
        status=UnitStatus(u.status) if u.status else UnitStatus.AVAILABLE,
        position=Point(u.position.lat, u.position.lon) if has_position else None,
        home_station=u.home_station,
        incident=u.incident,
        status_time=u.status_time.ToDatetime().timestamp() if u.HasField("status_time") else 0.0,
    )


async def list_units(clients: Clients) -> list[UnitView]:
    out: list[UnitView] = []
    token = ""
    while True:
        request = rpb.ListUnitsRequest(page_size=5000, page_token=token)
        reply = await with_retries(
            lambda r=request: clients.resources.ListUnits(r, timeout=TIMEOUT_S)  # type: ignore[misc]
        )
        out.extend(unit_view(u) for u in reply.units)
        token = reply.next_page_token
        if not token:
            return out


async def station_points(clients: Clients) -> dict[str, Point]:
    reply = await with_retries(
        lambda: clients.resources.ListStations(rpb.ListStationsRequest(), timeout=TIMEOUT_S)
    )
    return {s.name: Point(s.location.lat, s.location.lon) for s in reply.stations}


def hospital_view(h: resource_pb2.Hospital) -> HospitalView:
    a = h.available
    return HospitalView(
        name=h.name,
        label=h.name_en or h.name_vi or h.name,
        point=Point(h.location.lat, h.location.lon),
        capabilities=frozenset(h.capabilities),
        free={
            "emergency_beds": a.emergency_beds,
            "icu": a.icu,
            "burn": a.burn,
            "trauma": a.trauma,
            "pediatric": a.pediatric,
        },
        diverting=h.diversion == resource_pb2.DIVERSION_STATUS_FULL,
        diverting_specialty=h.diversion == resource_pb2.DIVERSION_STATUS_PARTIAL,
    )


async def list_hospitals(clients: Clients) -> list[resource_pb2.Hospital]:
    reply = await with_retries(
        lambda: clients.resources.ListHospitals(rpb.ListHospitalsRequest(), timeout=TIMEOUT_S)
    )
    return list(reply.hospitals)


async def catalog(clients: Clients) -> Catalog:
    """The incident type catalog, from the incidents service (the authority on codes)."""
    reply = await with_retries(
        lambda: clients.incidents.ListIncidentTypes(
            ipb.ListIncidentTypesRequest(), timeout=TIMEOUT_S
        )
    )
    return Catalog(
        tuple(
            IncidentKind(
                code=t.code,
                category=t.category,
                agencies=tuple(Agency(a) for a in t.agencies),
                default_priority=Priority(t.default_priority or 3),
            )
            for t in reply.types
        )
    )


def seconds(ts: Timestamp) -> float:
    """A protobuf timestamp as Unix seconds."""
    return ts.ToNanoseconds() / 1e9


def pb_status(status: UnitStatus) -> resource_pb2.UnitStatus.ValueType:
    return resource_pb2.UnitStatus.ValueType(int(status))


def location(lat: float, lon: float, ward: str, address: str) -> common_pb2.Location:
    return common_pb2.Location(lat=lat, lon=lon, ward=ward, address=address)
