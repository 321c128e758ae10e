"""Every RPC of every service, fuzzed through reflection against the real city.

Incidents, resources and dispatch run on a real nats-server and SQLite files (the `city`
fixture), the ops service (dead letters) beside them; the fuzzer discovers their methods through server reflection, sends requests
built from the descriptors and raw bytes that are no valid message, and asserts that
every answer is a documented status (never UNKNOWN, INTERNAL or a dropped connection)
and that health stays SERVING. `ICC_FUZZ_EXAMPLES` sets the number of calls (a few
hundred in CI; thousands for a nightly run); `ICC_FUZZ_REPORT=1` prints the counts of
answers by method and status.
"""

import asyncio
import os
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from icc.incident.v1 import incident_service_pb2 as incident_pb
from icc.resource.v1 import resource_service_pb2 as resource_pb
from icc_bus import BusConfig
from icc_ops import main as ops_main
from icc_testing import Pki
from tests.conftest import City
from tests.rpc_fuzz import Method, Tally, bodies, call, discover, metadata
from tests.rpc_fuzz_values import Known, field_names

EXAMPLES = int(os.environ.get("ICC_FUZZ_EXAMPLES", "800"))
# One seed by default, so a run in CI sends the same calls as the last one: a new finding
# comes from a change, not from chance. A nightly run sets another to explore.
SEED = int(os.environ.get("ICC_FUZZ_SEED", "20261207"))
REPORT = os.environ.get("ICC_FUZZ_REPORT") == "1"
# Only the methods whose path holds this text (all by default).
ONLY = os.environ.get("ICC_FUZZ_METHODS", "")


INCIDENTS = "/icc.incident.v1.IncidentService"
RESOURCES = "/icc.resource.v1.ResourceService"


async def _known(city: City) -> Known:
    """Real names, tokens and cursors, so that requests reach past the first checks."""
    known = Known()
    incidents = [await city.create("MEDICAL.CARDIAC_ARREST") for _ in range(3)]
    for incident in incidents:
        known.harvest(incident)
        note = incident_pb.AddNoteRequest(parent=incident.name, text="gọi lại sau 5 phút")
        await city.incidents.AddNote(note, timeout=5)
    types = await city.incidents.ListIncidentTypes(
        incident_pb.ListIncidentTypesRequest(), timeout=5
    )
    known.type_codes = [t.code for t in types.types]
    watched = incident_pb.WatchIncidentsRequest()
    watch = city.incidents.WatchIncidents(watched, timeout=10)
    await asyncio.sleep(0.5)  # the watch subscribes before the next incident is created
    await city.create("FIRE.STRUCTURE")
    _learn(known, f"{INCIDENTS}/WatchIncidents", watched, await anext(aiter(watch)))
    watch.cancel()
    first_pages: list[tuple[str, Any, Message]] = [
        (
            f"{INCIDENTS}/ListIncidents",
            city.incidents.ListIncidents,
            incident_pb.ListIncidentsRequest(page_size=1),
        ),
        *(
            (
                f"{INCIDENTS}/ListChronology",
                city.incidents.ListChronology,
                incident_pb.ListChronologyRequest(parent=i.name, page_size=1),
            )
            for i in incidents
        ),
        (
            f"{RESOURCES}/ListUnits",
            city.resources.ListUnits,
            resource_pb.ListUnitsRequest(page_size=3),
        ),
    ]
    for path, rpc, request in first_pages:
        _learn(known, path, request, await rpc(request, timeout=5))
    hospitals = await city.resources.ListHospitals(resource_pb.ListHospitalsRequest(), timeout=5)
    known.harvest(hospitals.hospitals[0])
    stations = await city.resources.ListStations(resource_pb.ListStationsRequest(), timeout=5)
    known.harvest(stations.stations[0])
    return known


def _learn(known: Known, method: str, request: Message, reply: Message) -> None:
    known.harvest(reply)
    known.follow(method, request, reply)


# Who calls: the center's supervisor, and the services that alone may reserve, release and
# report positions, so that every handler is reached past its authorization.
CALLERS = ("command-center", "dispatch", "simulator")


def _fuzz(targets: list[str], known: Known, pki: Pki) -> Tally:
    methods = [m for t in targets for m in discover(t, pki.credentials()) if ONLY in m.path]
    known.field_names = sorted({f for m in methods for f in field_names(m.request.DESCRIPTOR)})
    if not ONLY:
        assert {m.label.rpartition("/")[2] for m in methods} >= {
            "ReportPositions",
            "WatchIncidents",
            "AssignUnits",
            "ListDeadLetters",
        }
    channels = {
        (t, who): grpc.secure_channel(t, pki.credentials(who)) for t in targets for who in CALLERS
    }
    tally = Tally()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED)
    @given(st.data())
    def one_call(data: st.DataObject) -> None:
        # Each method as often as any other: health and reflection are on every server.
        label = data.draw(st.sampled_from(sorted({m.label for m in methods})))
        method: Method = data.draw(st.sampled_from([m for m in methods if m.label == label]))
        count = data.draw(st.integers(0, 3)) if method.client_streaming else 1
        sent = [data.draw(bodies(method, known)) for _ in range(count)]
        meta = data.draw(metadata)
        who = data.draw(st.sampled_from(CALLERS))
        code, detail = call(channels[method.target, who], method, sent, meta, known)
        tally.add(method, code, detail, b"|".join(sent))
        health = health_pb2_grpc.HealthStub(channels[method.target, who])
        reply = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, method.target

    try:
        one_call()
    finally:
        for channel in channels.values():
            channel.close()
    return tally


# The services run in this process: their own use of `random` (reconnect jitter) shows
# to hypothesis as if a strategy drew from it.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.timeout(max(120, EXAMPLES // 5))
async def test_every_rpc_answers_hostile_requests_with_a_documented_status(
    city: City, pki: Pki
) -> None:
    known = await _known(city)
    ops = await ops_main.start(
        ops_main.Config("127.0.0.1:0", BusConfig(city.nats.url), pki.tls("ops"))
    )
    running = [*city.running.values(), ops]
    try:
        targets = [f"127.0.0.1:{s.port}" for s in running]  # type: ignore[attr-defined]
        tally = await asyncio.to_thread(_fuzz, targets, known, pki)
    finally:
        await ops.stop()
    if REPORT:
        print(f"\n{tally.calls} calls\n{tally.table()}")
    assert not tally.offending, (
        f"{sum(tally.bad().values())} of {tally.calls} calls answered outside the documented "
        f"statuses: {dict(tally.bad())}\n" + "\n".join(tally.offending)
    )
