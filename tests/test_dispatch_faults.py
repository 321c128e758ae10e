"""Nothing twice: dispatch killed with SIGKILL in the middle of a burst, then restarted."""

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
import pytest_asyncio

from icc.common.v1 import common_pb2
from icc.dispatch.v1 import dispatch_pb2
from icc.dispatch.v1 import dispatch_service_pb2_grpc as dispatch_grpc
from icc.dispatch.v1 import events_pb2 as dispatch_events
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.resource.v1 import resource_pb2
from icc.resource.v1 import resource_service_pb2 as rpb
from icc_dispatch import main as dispatch_main
from icc_dispatch import store
from icc_dispatch.domain import lifecycle
from icc_dispatch.domain.model import (
    Actor,
    Agency,
    Assignment,
    AssignmentState,
    IncidentPhase,
    IncidentView,
    Point,
    Priority,
    UnitKind,
)
from icc_kernel.reasons import Reason, ReasonCode
from icc_storage import Database
from icc_testing import NatsServer, Pki, ServiceProcess, free_port
from tests.conftest import City, dispatch_config, start_city, stop_city, stream_payloads
from tests.test_dispatch import (
    active,
    assert_nobody_double_booked,
    recommend,
    statuses,
    wait_served,
    wait_status,
)

pytestmark = pytest.mark.slow

TYPES = ["TRAFFIC.ROAD_BLOCKED", "FIRE.RUBBISH", "POLICE.BURGLARY", "MEDICAL.CARDIAC_ARREST"]
SPOTS = [(10.7740, 106.7035), (10.8000, 106.6650), (10.7550, 106.6400), (10.8500, 106.7700)]


@pytest_asyncio.fixture
async def city_with_dispatch_process(
    nats_server: NatsServer, tmp_path: Path, pki: Pki
) -> AsyncIterator[tuple[City, ServiceProcess]]:
    city, services, channels = await start_city(nats_server, tmp_path, pki)
    # Only incidents and resources in this process: dispatch runs as its own OS process.
    await services[0].stop()  # type: ignore[attr-defined]
    port = free_port()
    proc = ServiceProcess(
        "icc_dispatch.main",
        f"127.0.0.1:{port}",
        {
            "ICC_DISPATCH_ADDR": f"127.0.0.1:{port}",
            "ICC_NATS_URL": nats_server.url,
            "ICC_DISPATCH_DB_URL": f"sqlite+aiosqlite:///{tmp_path / 'dispatch-proc.db'}",
            "ICC_RESOURCES_TARGET": city.resources_target,
            "ICC_DISPATCH_AUTO": "P1,P2,P3,P4",
            "ICC_DISPATCH_ACK_TIMEOUT_S": "3600",
            "ICC_LOG_LEVEL": "WARNING",
            **pki.env("dispatch"),
        },
        tmp_path / "dispatch.log",
        pki.credentials(),
    )
    # In a thread: the resources service it waits for answers from this event loop.
    await asyncio.to_thread(proc.start)
    channel = pki.channel(f"127.0.0.1:{port}")
    city.dispatch = dispatch_grpc.DispatchServiceStub(channel)
    try:
        yield city, proc
    finally:
        await channel.close()
        await asyncio.to_thread(proc.stop)
        await stop_city(services[1:], channels)


async def assigned_events(url: str) -> list[dispatch_events.UnitsAssigned]:
    payloads = await stream_payloads(url, "ICC_DISPATCH", "icc.dispatch.assigned")
    return [dispatch_events.UnitsAssigned.FromString(p) for p in payloads]


async def test_dispatch_killed_mid_burst_dispatches_every_incident_exactly_once(
    city_with_dispatch_process: tuple[City, ServiceProcess],
) -> None:
    city, dispatch = city_with_dispatch_process
    rng = random.Random(11)
    nc = await nats.connect(city.nats.url)
    first_assigned = asyncio.Event()

    async def on_assigned(_msg: object) -> None:
        first_assigned.set()

    sub = await nc.subscribe("icc.dispatch.assigned", cb=on_assigned)

    async def burst() -> list[str]:
        names = []
        for i in range(60):
            incident = await city.create(
                TYPES[i % len(TYPES)], at=SPOTS[rng.randrange(len(SPOTS))], request_id=f"b-{i}"
            )
            names.append(incident.name)
            await asyncio.sleep(0.02)
        return names

    creating = asyncio.create_task(burst())
    try:
        for delay in (0.0, 0.4):
            await asyncio.wait_for(first_assigned.wait(), timeout=20)
            await asyncio.sleep(delay + rng.random() * 0.2)
            dispatch.kill()  # SIGKILL: whatever was in flight stays as it was
            await asyncio.to_thread(dispatch.start)
        names = await creating
    finally:
        await sub.unsubscribe()
        await nc.close()

    deadline = time.monotonic() + 60
    while True:
        found = await statuses(city, names)
        done = len(found) == len(names) and all(
            s.state == dispatch_pb2.DISPATCH_STATE_COMPLETE for s in found.values()
        )
        if done:
            break
        assert time.monotonic() < deadline, Counter(s.state for s in found.values())
        await asyncio.sleep(0.2)

    # Exactly the plan, once: no role filled twice, no reservation left hanging.
    for name, s in found.items():
        planned = sum(i.count for i in s.plan.items)
        assert len(active(s)) == planned, name
        assert all(a.state == common_pb2.ASSIGNMENT_STATE_ASSIGNED for a in s.assignments), name
    await assert_nobody_double_booked(city, found)

    # Each assignment announced once, and nothing announced that is not held. An event
    # committed just before a kill goes out with the restarted relay's sweep: wait for it.
    held = {a.name for s in found.values() for a in active(s)}
    deadline = time.monotonic() + 30
    while True:
        events = await assigned_events(city.nats.url)
        announced = Counter(a.name for e in events for a in e.assignments)
        assert all(n == 1 for n in announced.values()), announced.most_common(3)
        if set(announced) == held:
            break
        assert time.monotonic() < deadline, (held - set(announced), set(announced) - held)
        await asyncio.sleep(0.5)

    # The incidents service shows the same units on each incident.
    deadline = time.monotonic() + 20
    for name in names:
        while True:
            got = (
                await city.incidents.GetIncident(ipb.GetIncidentRequest(name=name), timeout=5)
            ).incident
            if {a.name for a in got.assignments} == {a.name for a in active(found[name])}:
                break
            assert time.monotonic() < deadline, name
            await asyncio.sleep(0.1)


async def test_interrupted_reservations_are_finished_once_on_restart(
    pki: Pki, nats_server: NatsServer, tmp_path: Path
) -> None:
    """The two crash windows, made on purpose: a proposal whose reservation was made
    but not recorded, and one whose reservation was never made."""
    city, services, channels = await start_city(
        nats_server, tmp_path, pki, auto_priorities=frozenset()
    )
    try:
        incident = await city.create("FIRE.RUBBISH", priority=3)
        await recommend(city, incident.name)  # dispatch knows the incident
        await services[0].stop()  # type: ignore[attr-defined]
        incident_id = incident.name.removeprefix("incidents/")
        engines = (await city.available(resource_pb2.UNIT_KIND_ENGINE, limit=2))[:2]
        reserved, never = (u.name.removeprefix("units/") for u in engines)
        # Window 1: the reservation was made, the process died before recording it.
        await city.resources_as("dispatch").ReserveUnits(
            rpb.ReserveUnitsRequest(
                incident=incident.name, units=[f"units/{reserved}"], request_id="dsp-crash-a"
            ),
            timeout=5,
        )
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'dispatch.db'}")
        long_ago = datetime.now(UTC) - timedelta(minutes=1)
        try:
            async with db.write() as conn:
                await store.insert_assignments(
                    conn,
                    [
                        proposal(f"a{i}", incident_id, unit, rid, long_ago)
                        for i, (unit, rid) in enumerate(
                            [(reserved, "dsp-crash-a"), (never, "dsp-crash-b")]
                        )
                    ],
                )
        finally:
            await db.dispose()

        dispatch = await dispatch_main.start(
            dispatch_config(
                nats_server,
                tmp_path / "dispatch.db",
                city.resources_target,
                pki,
                auto_priorities=frozenset(),
            )
        )
        services[0] = dispatch
        channel = pki.channel(f"127.0.0.1:{dispatch.port}")
        channels.append(channel)
        city.dispatch = dispatch_grpc.DispatchServiceStub(channel)

        deadline = time.monotonic() + 15
        while True:
            found = await statuses(city, [incident.name])
            states = [a.state for a in found[incident.name].assignments]
            if states == [common_pb2.ASSIGNMENT_STATE_ASSIGNED] * 2:
                break
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.1)
        await assert_nobody_double_booked(city, found)
        await asyncio.sleep(1.0)  # any second announcement would be out by now
        announced = Counter(
            a.name for e in await assigned_events(city.nats.url) for a in e.assignments
        )
        assert announced == Counter({"assignments/a0": 1, "assignments/a1": 1})
    finally:
        await stop_city(services, channels)


async def test_an_interrupted_release_frees_the_units_still_the_incidents(
    pki: Pki, nats_server: NatsServer, tmp_path: Path
) -> None:
    """Dispatch stopped between recording a release and making it; meanwhile one of the
    incident's units went to another incident at the resources service. On restart the
    incident's other units are freed (they are released together, and the request is
    refused as a whole because of the one taken), and the one taken stays where it is."""
    city, services, channels = await start_city(
        nats_server, tmp_path, pki, ack_within=timedelta(hours=1)
    )
    try:
        incident = await city.create("FIRE.STRUCTURE")
        done = await wait_status(city, incident.name, dispatch_pb2.DISPATCH_STATE_COMPLETE)
        units = sorted(a.unit for a in done.assignments)
        assert len(units) >= 3
        await services[0].stop()  # type: ignore[attr-defined]
        taken, others = units[0], units[1:]
        await city.resources_as("dispatch").ReleaseUnits(
            rpb.ReleaseUnitsRequest(
                incident=incident.name, units=[taken], request_id="test-free", reason="test"
            ),
            timeout=5,
        )
        await city.resources_as("dispatch").ReserveUnits(
            rpb.ReserveUnitsRequest(
                incident="incidents/other", units=[taken], request_id="test-take"
            ),
            timeout=5,
        )
        # The release recorded and not yet made, as when the process died in between.
        incident_id = incident.name.removeprefix("incidents/")
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'dispatch.db'}")
        try:
            async with db.write() as conn:
                current = await store.assignments_of(conn, incident_id)
                now = datetime.now(UTC)
                out = Reason.of(ReasonCode.RELEASED_BY_DISPATCHER, text="fire out")
                await store.save_assignments(
                    conn, [lifecycle.release(a, now, out, tell_resources=True) for a in current]
                )
        finally:
            await db.dispose()

        dispatch = await dispatch_main.start(
            dispatch_config(
                nats_server,
                tmp_path / "dispatch.db",
                city.resources_target,
                pki,
                auto_priorities=frozenset(),  # nothing is dispatched again meanwhile
            )
        )
        services[0] = dispatch
        deadline = time.monotonic() + 15
        while True:
            found = {
                name: (await city.resources.GetUnit(rpb.GetUnitRequest(name=name), timeout=5)).unit
                for name in units
            }
            if all(not found[name].incident for name in others):
                break
            assert time.monotonic() < deadline, found
            await asyncio.sleep(0.1)
        assert all(found[n].status == resource_pb2.UNIT_STATUS_AVAILABLE for n in others)
        assert found[taken].incident == "incidents/other"
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'dispatch.db'}")
        try:
            deadline = time.monotonic() + 5
            while True:
                async with db.read() as conn:
                    _, releasing = await store.unfinished(conn)
                if not releasing:
                    break  # the resources service is done with every one of them
                assert time.monotonic() < deadline, releasing
                await asyncio.sleep(0.1)
        finally:
            await db.dispose()
    finally:
        await stop_city(services, channels)


def proposal(
    assignment_id: str, incident_id: str, unit_id: str, rid: str, at: datetime
) -> Assignment:
    return Assignment(
        id=assignment_id,
        incident_id=incident_id,
        unit_id=unit_id,
        call_sign=unit_id,
        agency=Agency.FIRE,
        kind=UnitKind.ENGINE,
        role="engine",
        state=AssignmentState.PROPOSED,
        eta_s=300,
        request_id=rid,
        assigned_by=Actor("dispatcher-1", Agency.FIRE, "dispatcher"),
        create_time=at,
    )


async def test_a_new_incident_event_handled_twice_at_once_reserves_its_units_once(
    pki: Pki, nats_server: NatsServer, tmp_path: Path
) -> None:
    """A redelivery racing the first delivery of a new incident's event (another replica,
    or an ack wait run out): one intake, one reservation, and no unit held at the
    resources service that dispatch has no record of."""
    city, services, channels = await start_city(nats_server, tmp_path, pki)
    try:
        service = services[0].service  # type: ignore[attr-defined]
        # A first incident, dispatched through the bus: dispatch is up and quiet.
        first = await city.create("POLICE.ROBBERY")
        await wait_served(city, [first.name], [first.name])
        view = IncidentView(
            id="d0d0d0d0d0d0d0d1",
            type_code="MEDICAL.CARDIAC_ARREST",
            priority=Priority.P1,
            location=Point(10.7740, 106.7035),
            phase=IncidentPhase.OPEN,
            create_time=datetime.now(UTC),
            version=1,
            auto=True,
        )
        await asyncio.gather(*(service.on_incident("evt-twice-1", view) for _ in range(2)))
        found = await wait_served(city, [view.name], [view.name])
        await asyncio.sleep(0.5)  # a second reservation, if any, has landed by now
        both = await statuses(city, [first.name, view.name])
        await assert_nobody_double_booked(city, both, timeout_s=3)
        assert len({a.unit for a in active(found[view.name])}) == len(active(found[view.name]))
    finally:
        await stop_city(services, channels)
