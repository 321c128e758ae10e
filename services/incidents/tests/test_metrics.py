"""The incidents service's metrics: intake, response times, RPC latency, outbox backlog."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

import grpc
import nats
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as pb
from icc.resource.v1 import events_pb2 as resource_events
from icc.resource.v1 import resource_pb2
from icc_bus import StreamSpec, ensure_streams, outgoing, publish_event
from icc_incidents.consumers import UNITS as UNITS_CONSUMER
from icc_testing import RecordedMetrics

from .conftest import Service
from .test_api import T, create

CREATED = "icc.incidents.created"
TO_DISPATCH = "icc.incident.time_to_dispatch"
TO_ON_SCENE = "icc.incident.time_to_on_scene"
RPC = "rpc.server.duration"
# Every attribute key these metrics may carry: nothing that names a person, place or unit.
ALLOWED = {
    "icc.incident.agency",
    "icc.incident.priority",
    "icc.incident.exercise",
    "icc.incident.type",
    "icc.incident.line",
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "rpc.grpc.status_code",
}
# A duplicate window this short lets a test deliver an event id a second time, as
# JetStream does when an ack is lost.
DISPATCH = StreamSpec(name="ICC_DISPATCH", subjects=["icc.dispatch.>"], duplicate_window_s=0.5)
UNITS = StreamSpec(name="ICC_UNIT", subjects=["icc.unit.status.>"])


async def eventually(
    check: Callable[[], object] | Callable[[], Awaitable[object]], timeout_s: float = 10
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_intake_counts_each_new_incident_once_by_agency_and_priority(
    service: Service, metrics: RecordedMetrics
) -> None:
    await create(service, request_id="fire-1")
    await create(service, request_id="fire-1")  # a retry: the same incident
    await create(service, type_code="MEDICAL.CARDIAC_ARREST", priority=common_pb2.PRIORITY_P2)
    await create(service, exercise=True)

    fire = {"icc.incident.agency": "FIRE", "icc.incident.priority": "P1"}
    assert metrics.counter(CREATED) == 3
    assert metrics.counter(CREATED, {**fire, "icc.incident.exercise": False}) == 1
    assert metrics.counter(CREATED, {**fire, "icc.incident.exercise": True}) == 1
    assert metrics.counter(CREATED, {"icc.incident.agency": "MEDICAL"}) == 1
    assert metrics.counter(CREATED, {"icc.incident.priority": "P2"}) == 1
    assert metrics.counter(CREATED, {"icc.incident.type": "FIRE"}) == 2
    # No call line given: the call-taker's agency's (the command center answers 112).
    assert metrics.counter(CREATED, {"icc.incident.line": "EMERGENCY_112"}) >= 1
    for labels in metrics.attribute_sets(CREATED):
        assert set(labels) <= ALLOWED


async def test_rpc_latency_by_method_and_status_without_health_checks(
    service: Service, metrics: RecordedMetrics
) -> None:
    await create(service)
    await create(service)
    try:
        await service.stub.GetIncident(pb.GetIncidentRequest(name="incidents/nope"), timeout=T)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND
    try:
        await service.stub.CreateIncident(pb.CreateIncidentRequest(), timeout=T)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    await health_pb2_grpc.HealthStub(service.channel).Check(
        health_pb2.HealthCheckRequest(), timeout=T
    )

    method = {"rpc.service": "icc.incident.v1.IncidentService", "rpc.system": "grpc"}
    ok = {**method, "rpc.method": "CreateIncident", "rpc.grpc.status_code": 0}
    assert metrics.histogram_count(RPC, ok) == 2
    assert metrics.histogram_sum(RPC, ok) > 0
    invalid = {**method, "rpc.method": "CreateIncident", "rpc.grpc.status_code": 3}
    assert metrics.histogram_count(RPC, invalid) == 1
    not_found = {**method, "rpc.method": "GetIncident", "rpc.grpc.status_code": 5}
    assert metrics.histogram_count(RPC, not_found) == 1
    services = {labels["rpc.service"] for labels in metrics.attribute_sets(RPC)}
    assert "grpc.health.v1.Health" not in services
    for labels in metrics.attribute_sets(RPC):
        assert set(labels) <= ALLOWED


def assigned(
    incident: str, n: int, state: int = common_pb2.ASSIGNMENT_STATE_ASSIGNED
) -> dispatch_events.UnitsAssigned:
    at = Timestamp()
    at.GetCurrentTime()
    return dispatch_events.UnitsAssigned(
        incident=incident,
        priority=common_pb2.PRIORITY_P1,
        automatic=True,
        assignments=[
            dispatch_pb2.Assignment(
                name=f"assignments/a{n}",
                incident=incident,
                unit=f"units/u{n}",
                call_sign=f"E-{n}",
                agency=common_pb2.AGENCY_FIRE,
                state=state,  # type: ignore[arg-type]
                assign_time=at,
            )
        ],
    )


async def units_consumer_ready(js: JetStreamContext) -> bool:
    try:
        await js.consumer_info(UNITS.name, UNITS_CONSUMER.durable)
    except NotFoundError:
        return False
    return True


def on_scene(n: int, incident: str) -> resource_events.UnitStatusChanged:
    """Unit `u<n>` of `incident` reports on scene."""
    return resource_events.UnitStatusChanged(
        unit=resource_pb2.Unit(
            name=f"units/u{n}",
            call_sign=f"E-{n}",
            agency=common_pb2.AGENCY_FIRE,
            status=resource_pb2.UNIT_STATUS_ON_SCENE,
            incident=incident,
        )
    )


async def test_time_to_dispatch_and_on_scene_are_recorded_once_per_incident(
    service: Service, metrics: RecordedMetrics
) -> None:
    created = await create(service)
    incident_id = created.name.removeprefix("incidents/")
    nc = await nats.connect(service.nats.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, [DISPATCH, UNITS])

        async def send(event_id: str, message: Message, subject: str) -> None:
            await publish_event(js, outgoing(subject, event_id, message, incident=incident_id))

        first = assigned(created.name, 1)
        await send("d-1", first, "icc.dispatch.assigned")
        await eventually(lambda: metrics.histogram_count(TO_DISPATCH) == 1)
        labels = {"icc.incident.agency": "FIRE", "icc.incident.priority": "P1"}
        assert metrics.histogram_count(TO_DISPATCH, labels) == 1
        assert 0 <= metrics.histogram_sum(TO_DISPATCH) < 30

        # The same event again (after the duplicate window, as a lost ack would bring
        # it), then a second unit: the incident was dispatched once.
        await asyncio.sleep(DISPATCH.duplicate_window_s + 0.2)
        await send("d-1", first, "icc.dispatch.assigned")
        await send("d-2", assigned(created.name, 2), "icc.dispatch.assigned")

        async def both_assigned() -> bool:
            got = await service.stub.GetIncident(
                pb.GetIncidentRequest(name=created.name), timeout=T
            )
            return len(got.incident.assignments) == 2

        await eventually(both_assigned)
        info = await js.consumer_info("ICC_DISPATCH", "incidents-dispatch")
        assert info.delivered.stream_seq == 3  # all three reached the service
        assert metrics.histogram_count(TO_DISPATCH) == 1
        assert metrics.histogram_count(TO_ON_SCENE) == 0

        # Units report on scene; only the first counts. (The units consumer takes new
        # messages only: wait until it exists.)
        await eventually(lambda: units_consumer_ready(js))
        for n in (1, 2):
            await send(f"s-{n}", on_scene(n, created.name), f"icc.unit.status.u{n}")
        await eventually(lambda: metrics.histogram_count(TO_ON_SCENE) == 1)
        await asyncio.sleep(0.5)  # the second unit's report has been handled too
        assert metrics.histogram_count(TO_ON_SCENE, labels) == 1
        assert metrics.histogram_count(TO_DISPATCH) == 1
        for name in (TO_DISPATCH, TO_ON_SCENE):
            for attrs in metrics.attribute_sets(name):
                assert set(attrs) <= ALLOWED
    finally:
        await nc.close()
    got = await service.stub.GetIncident(pb.GetIncidentRequest(name=created.name), timeout=T)
    assert got.incident.state == incident_pb2.INCIDENT_STATE_ON_SCENE


async def test_outbox_backlog_is_reported_and_drains(
    service: Service, metrics: RecordedMetrics
) -> None:
    await create(service)
    # The relay counts unsent rows at every sweep (every 2 s); published, they are gone.
    await eventually(lambda: metrics.gauge("icc.outbox.backlog") == 0, timeout_s=10)
